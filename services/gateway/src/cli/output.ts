/**
 * What the CLI prints: `-o table|wide|json|yaml|csv` (and `--no-headers`) for every command, through
 * one Printer; readable tables, key/value lists and a progress bar for people (the bar on stderr).
 */

export const outputFormats = ['table', 'wide', 'json', 'yaml', 'csv'] as const;
export type OutputFormat = (typeof outputFormats)[number];

/** A command's answer as rows: what csv prints, and table/wide when the command has no own text. */
export interface Tabular {
  rows: readonly Record<string, unknown>[];
  columns: readonly string[];
  /** Columns `-o wide` adds after `columns`. */
  wide?: readonly string[];
}

export interface Printer {
  readonly format: OutputFormat;
  readonly headers: boolean;
  /**
   * Prints `value` in the chosen format: json/yaml the value itself, csv the rows of `tabular`
   * (else the value's fields, one per line), table the `human` text, wide the rows with their wide
   * columns when given (else the human text).
   */
  print(value: unknown, human: () => string, tabular?: Tabular): void;
}

export function printer(stdout: { write(text: string): unknown }, format: OutputFormat, headers = true): Printer {
  const columnsOf = (t: Tabular) => (format === 'wide' ? [...t.columns, ...(t.wide ?? [])] : t.columns);
  return {
    format,
    headers,
    print(value, human, tabular) {
      const text = (() => {
        switch (format) {
          case 'json':
            return JSON.stringify(value, null, 2);
          case 'yaml':
            return toYaml(value).trimEnd();
          case 'csv':
            return tabular
              ? toCsv(tabular.rows, columnsOf(tabular), headers)
              : toCsv(fieldsOf(value), ['field', 'value'], headers);
          case 'wide':
            return tabular?.wide ? table(tabular.rows, columnsOf(tabular), { headers }) : human();
          case 'table':
            return tabular && !headers ? table(tabular.rows, tabular.columns, { headers }) : human();
        }
      })();
      stdout.write(`${text}\n`);
    },
  };
}

function fieldsOf(value: unknown): Record<string, unknown>[] {
  if (value === null || typeof value !== 'object') return [{ field: 'value', value }];
  return Object.entries(value as Record<string, unknown>).map(([field, v]) => ({ field, value: v }));
}

const cellOf = (value: unknown) =>
  value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled; CRLF line ends. */
export function toCsv(rows: readonly Record<string, unknown>[], columns: readonly string[], headers = true): string {
  const field = (value: unknown) => {
    const text = cellOf(value);
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = rows.map((row) => columns.map((c) => field(row[c])).join(','));
  return (headers ? [columns.join(','), ...lines] : lines).join('\r\n');
}

/**
 * YAML 1.2 of a JSON value, block style. A string is written plain only when it cannot be read as
 * anything else; otherwise as a JSON string (valid YAML), so every value reads back as it was.
 */
export function toYaml(value: unknown, indent = ''): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]\n';
    return value
      .map((item) => {
        const body = toYaml(item, `${indent}  `);
        return isBlock(item) ? `${indent}-\n${body}` : `${indent}- ${body}`;
      })
      .join('');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}\n';
    return entries
      .map(([key, v]) => {
        const name = plain(key) ? key : JSON.stringify(key);
        return isBlock(v) ? `${indent}${name}:\n${toYaml(v, `${indent}  `)}` : `${indent}${name}: ${toYaml(v, indent)}`;
      })
      .join('');
  }
  if (typeof value === 'string') return `${plain(value) ? value : JSON.stringify(value)}\n`;
  return `${value === undefined ? 'null' : JSON.stringify(value)}\n`;
}

const isBlock = (value: unknown) =>
  value !== null &&
  typeof value === 'object' &&
  (Array.isArray(value) ? value.length > 0 : Object.keys(value).length > 0);

/** Safe unquoted: starts with a letter or digit, no YAML indicator, not a number, bool or null. */
function plain(text: string): boolean {
  return (
    /^[A-Za-z0-9_][A-Za-z0-9_ ./@-]*$/.test(text) &&
    !/ $/.test(text) &&
    !/^(?:true|false|yes|no|on|off|null|~|y|n)$/i.test(text) &&
    !/^[-+]?(?:\d[\d_]*(?:\.\d*)?(?:e[-+]?\d+)?|\.\d+|0x[0-9a-f]+|0o[0-7]+|\.inf|\.nan)$/i.test(text) &&
    !/^\d{4}-\d{2}-\d{2}/.test(text)
  );
}

export function table(
  rows: readonly Record<string, unknown>[],
  columns: readonly string[],
  options: { headers?: boolean } = {},
): string {
  if (rows.length === 0) return options.headers === false ? '' : '(none)';
  const cell = cellOf;
  const widths = columns.map((column) =>
    Math.min(60, Math.max(column.length, ...rows.map((row) => cell(row[column]).length))),
  );
  const line = (values: string[]) =>
    values
      .map((value, i) => value.slice(0, widths[i]).padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const body = rows.map((row) => line(columns.map((c) => cell(row[c]))));
  if (options.headers === false) return body.join('\n');
  return [line(columns.map((c) => c.toUpperCase())), line(widths.map((w) => '-'.repeat(w))), ...body].join('\n');
}

export function keyValues(record: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(record).map((k) => k.length));
  return Object.entries(record)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key.padEnd(width)}  ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
    .join('\n');
}

export interface ProgressBar {
  update(done: number, total: number, label?: string): void;
  finish(): void;
}

/** A one-line bar on a terminal; on a pipe, a line per 10 % so logs stay short. */
export function progressBar(
  stream: NodeJS.WriteStream | { write(text: string): unknown; isTTY?: boolean },
  title: string,
): ProgressBar {
  let lastDecile = -1;
  return {
    update(done, total, label = '') {
      const ratio = total > 0 ? Math.min(1, done / total) : 0;
      if (stream.isTTY) {
        const width = 30;
        const filled = Math.round(ratio * width);
        stream.write(
          `\r${title} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${label}`.padEnd(80),
        );
      } else {
        const decile = Math.floor(ratio * 10);
        if (decile !== lastDecile) {
          lastDecile = decile;
          stream.write(`${title}: ${done}/${total} ${label}\n`);
        }
      }
    },
    finish() {
      if (stream.isTTY) stream.write('\n');
    },
  };
}
