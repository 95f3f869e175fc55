import type { CommandDefinition } from '../define-command.js';
import * as caCommands from './ca.commands.js';
import * as integrityCommands from './integrity.commands.js';
import * as onboardingCommands from './onboarding.commands.js';
import * as otaCommands from './ota.commands.js';
import * as registryCommands from './registry.commands.js';
import * as renewalCommands from './renewal.commands.js';
import * as revocationCommands from './revocation.commands.js';

const commandModules: readonly object[] = [
  registryCommands,
  caCommands,
  onboardingCommands,
  revocationCommands,
  otaCommands,
  renewalCommands,
  integrityCommands,
];

function isCommandDefinition(value: unknown): value is CommandDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    'payloadSchema' in value &&
    'replySchema' in value &&
    'command' in value
  );
}

/** Every operator command, in one list: the gateway's routes and the CLI are generated from it. */
export const commandDefinitions: readonly CommandDefinition[] = commandModules
  .flatMap((module) => Object.values(module) as unknown[])
  .filter(isCommandDefinition);

const byName = new Map<string, CommandDefinition>();
const bySubject = new Map<string, CommandDefinition>();
for (const definition of commandDefinitions) {
  if (byName.has(definition.name)) throw new Error(`contracts: command ${definition.name} is defined twice`);
  byName.set(definition.name, definition);
  bySubject.set(definition.subject(), definition);
}

/** By PascalCase name (`DefineServerPolicy`) or by subject without namespace (`cmd.registry.define-server-policy`). */
export function findCommandDefinition(nameOrSubject: string): CommandDefinition | undefined {
  return byName.get(nameOrSubject) ?? bySubject.get(nameOrSubject);
}
