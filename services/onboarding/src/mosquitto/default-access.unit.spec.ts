import { TargetRefusedError } from '../errors.js';
import { denyByDefaultCommand, unsafeDefaultAccess } from './default-access.js';

describe('default ACL access', () => {
  it('finds the default accesses that must be denied; an unreadable answer is refused', () => {
    const answer = (acls: { acltype: string; allow: boolean }[]) => ({
      command: 'getDefaultACLAccess',
      data: { acls },
    });
    expect(
      unsafeDefaultAccess(
        answer([
          { acltype: 'publishClientSend', allow: false },
          { acltype: 'publishClientReceive', allow: true },
          { acltype: 'subscribe', allow: false },
          { acltype: 'unsubscribe', allow: true },
        ]),
      ),
    ).toEqual([]);
    expect(unsafeDefaultAccess(answer([{ acltype: 'publishClientSend', allow: true }]))).toEqual([
      'publishClientSend',
      'subscribe',
    ]);
    expect(() => unsafeDefaultAccess({ command: 'getDefaultACLAccess', error: 'Permission denied' })).toThrow(
      TargetRefusedError,
    );
  });

  it('denies exactly the accesses it is given', () => {
    expect(denyByDefaultCommand(['publishClientSend', 'subscribe'])).toEqual({
      command: 'setDefaultACLAccess',
      acls: [
        { acltype: 'publishClientSend', allow: false },
        { acltype: 'subscribe', allow: false },
      ],
    });
  });
});
