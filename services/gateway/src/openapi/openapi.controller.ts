import { Controller, Get } from '@nestjs/common';
import { buildOpenApiDocument } from './openapi-document.js';

/** The OpenAPI document, public like /health: it describes the API, it grants nothing. */
@Controller()
export class OpenApiController {
  readonly #document = buildOpenApiDocument();

  @Get('openapi.json')
  document() {
    return this.#document;
  }
}
