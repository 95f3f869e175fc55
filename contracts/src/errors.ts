/** An event or command that does not match its contract. Details name paths, never values. */
export class ContractViolation extends Error {
  override readonly name = 'ContractViolation';
  readonly code = 'CONTRACT_VIOLATION';
  constructor(
    message: string,
    readonly details: readonly { path: string; message: string }[] = [],
    options?: { cause?: unknown },
  ) {
    super(details.length ? `${message}: ${details.map((d) => `${d.path || '/'} ${d.message}`).join('; ')}` : message, options);
  }
}

export function isContractViolation(error: unknown): error is ContractViolation {
  return error instanceof ContractViolation;
}
