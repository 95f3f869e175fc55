/**
 * Per-command help (`tunnelkey <noun> [<verb>] --help`) and shell completion
 * (`tunnelkey completion bash`), from one table: each command's usage line is looked up in the
 * CLI's usage text, so the two never disagree; the examples live here.
 */

export const globalFlags = `Output: -o table|wide|json|yaml|csv (--json = -o json), --no-headers; lists: --all, --limit n, --offset n
Gateway: --url (TUNNELKEY_URL), --token (TUNNELKEY_TOKEN); commands: --idempotency-key <k>`;

/** Examples per command (`noun verb`, or `noun` for a command without a verb). */
export const examples: Readonly<Record<string, readonly string[]>> = {
  'devices list': [
    'tunnelkey devices list --state Onboarded --connection connected',
    'tunnelkey devices list --q fridge-00 -o wide',
    'tunnelkey devices list --state Onboarded --sort lastTelemetryAt   # the longest silent first',
    'tunnelkey devices list --sort certificateNotAfter --limit 20      # the next certificates to expire',
    'tunnelkey devices list --batch fridges-2026 --all -o csv --no-headers',
  ],
  'devices show': ['tunnelkey devices show fridge-0001', 'tunnelkey devices show fridge-0001 -o yaml'],
  'devices history': ['tunnelkey devices history fridge-0001', 'tunnelkey devices history fridge-0001 --all -o json'],
  'devices export': [
    'tunnelkey devices export > devices.csv',
    'tunnelkey devices export --batch fridges-2026 --state Revoked -o json --file revoked.json',
  ],
  watch: [
    'tunnelkey watch',
    'tunnelkey watch --type device --batch fridges-2026',
    'tunnelkey watch --device fridge-0001 --count 1 -o json',
    'tunnelkey watch -o json --count 10 | jq .type',
  ],
  'revocations status': [
    'tunnelkey revocations status',
    'tunnelkey revocations status --batch fridges-2026 --all -o csv',
    'tunnelkey revocations status fridge-0001',
  ],
  'batches list': ['tunnelkey batches list', 'tunnelkey batches list -o json'],
  'revoke device': ['tunnelkey revoke device fridge-0001 --reason keyCompromise'],
  'revoke batch': ['tunnelkey revoke batch fridges-2026 --reason cessationOfOperation'],
  import: ['tunnelkey import fridges-2026 identities.csv'],
  certify: ['tunnelkey certify fridges-2026', 'tunnelkey certify fridges-2026 --device fridge-0001 --no-wait'],
  onboard: ['tunnelkey onboard fridges-2026 --target plant-broker'],
  completion: ['source <(tunnelkey completion bash)', 'tunnelkey completion bash > /etc/bash_completion.d/tunnelkey'],
};

/** Lines of `usage` that describe `noun` (and `verb` when given, else every verb of it). */
export function usageLinesOf(usage: string, noun: string, verb?: string): string[] {
  const lines = usage.split('\n');
  const found: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const match = /^\s+tunnelkey (\S+)(?: (\S+))?/.exec(lines[i]!);
    if (!match || match[1] !== noun) continue;
    const verbs = (match[2] ?? '').split('|');
    if (verb && !verbs.includes(verb) && !lines[i]!.includes(` | ${noun} ${verb}`) && !lines[i]!.includes(`| ${verb}`))
      continue;
    found.push(lines[i]!);
    // Continuation lines (deeper indent, no `tunnelkey`) belong to it.
    while (lines[i + 1] && /^\s{6,}(?!tunnelkey)\S/.test(lines[i + 1]!)) found.push(lines[++i]!);
  }
  return found;
}

/** The help of one command, or undefined when `noun` is not a command. */
export function commandHelp(usage: string, noun: string, verb?: string): string | undefined {
  const lines = usageLinesOf(usage, noun, verb);
  if (lines.length === 0) return undefined;
  const keys = verb ? [`${noun} ${verb}`] : Object.keys(examples).filter((k) => k === noun || k.startsWith(`${noun} `));
  const exampleLines = keys.flatMap((k) => examples[k] ?? []);
  return [
    'Usage:',
    ...lines,
    ...(exampleLines.length ? ['', 'Examples:', ...exampleLines.map((e) => `  ${e}`)] : []),
    '',
    globalFlags,
    '',
  ].join('\n');
}

/** Nouns and their verbs, read from the usage text (`tunnelkey <noun> <verb>|<verb> ...`). */
export function commandTree(usage: string): Map<string, Set<string>> {
  const tree = new Map<string, Set<string>>();
  const word = /^[a-z][a-z-]*$/;
  for (const line of usage.split('\n')) {
    const match = /^\s+tunnelkey (\S+)(.*)$/.exec(line);
    if (!match || !word.test(match[1]!)) continue;
    const noun = match[1]!;
    const verbs = tree.get(noun) ?? new Set<string>();
    tree.set(noun, verbs);
    // `noun a|b <x> | c <y> | noun d <z>`: a, b, c and d are verbs of noun.
    for (const [i, part] of match[2]!.split(' | ').entries()) {
      const words = part.trim().split(/\s+/);
      const first = i > 0 && words[0] === noun ? words[1] : words[0];
      for (const verb of (first ?? '').split('|')) if (word.test(verb)) verbs.add(verb);
    }
  }
  return tree;
}

/** A bash completion function for `tunnelkey` (and `npm run tunnelkey --`): nouns, their verbs, flags. */
export function bashCompletion(usage: string, flags: readonly string[]): string {
  const tree = commandTree(usage);
  const cases = [...tree]
    .filter(([, verbs]) => verbs.size > 0)
    .map(([noun, verbs]) => `    ${noun}) COMPREPLY=($(compgen -W "${[...verbs].join(' ')}" -- "$cur")) ;;`)
    .join('\n');
  return `# bash completion for tunnelkey: source <(tunnelkey completion bash)
_tunnelkey() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local words=() w
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do [[ $w == -* ]] || words+=("$w"); done
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "${flags.map((f) => `--${f}`).join(' ')}" -- "$cur")); return
  fi
  case "$prev" in
    -o|--output) COMPREPLY=($(compgen -W "table wide json yaml csv" -- "$cur")); return ;;
  esac
  if [[ \${#words[@]} -eq 0 ]]; then
    COMPREPLY=($(compgen -W "${[...tree.keys()].join(' ')}" -- "$cur")); return
  fi
  if [[ \${#words[@]} -eq 1 ]]; then
    case "\${words[0]}" in
${cases}
    esac
  fi
}
complete -F _tunnelkey tunnelkey
`;
}
