/**
 * One generation of the firmware-signing keys (`ota.signing-key.<keyId>`): the platform key's
 * delegation to it, recorded once. The keys themselves are derived under the KEK and never recorded.
 */
import { FirmwareSigningKeyDelegated, type DataOf, type EventOf } from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';

export type DelegationData = DataOf<typeof FirmwareSigningKeyDelegated>;
export type SigningKeyEvent = EventOf<typeof FirmwareSigningKeyDelegated>;
export type SigningKeyCommand = Command<'RecordDelegation', DelegationData>;
export type SigningKeyState = { delegation?: DelegationData };

export const signingKeyStream = (keyId: string) => ({ context: 'ota' as const, aggregate: 'signing-key', id: keyId });

export const signingKeyDecider: Decider<SigningKeyCommand, SigningKeyEvent, SigningKeyState> = {
  initialState: () => ({}),
  decide(command, state): NewEvent<SigningKeyEvent>[] {
    if (command.type !== 'RecordDelegation')
      throw new CommandRejected('unknown-command', `unknown command ${(command as Command).type}`);
    const recorded = state.delegation;
    if (!recorded) return [{ type: 'FirmwareSigningKeyDelegated', version: 1, data: command.data }];
    // Derived keys: the same generation always has the same public keys. Another is a KEK change.
    if (
      recorded.ecdsaPublicKey !== command.data.ecdsaPublicKey ||
      recorded.mlDsaPublicKey !== command.data.mlDsaPublicKey
    )
      throw new CommandRejected(
        'signing-key-mismatch',
        `signing key ${recorded.keyId} was delegated other keys (KEK changed?)`,
      );
    return [];
  },
  evolve: (state, event) =>
    event.type === 'FirmwareSigningKeyDelegated' && !state.delegation ? { delegation: event.data } : state,
};
