import { generateP256KeyPair, WebCryptoSigner } from '@tunnelkey/pki';
import { now, startOnboardingSlice, type OnboardingSlice } from '../test-support/onboarding-slice.test-helper.js';
import { TargetsView } from '../views/targets.view.js';
import { TargetAuthorities, TargetAuthority, targetAuthorityId } from './target-authority.js';

describe("a target's own CA (in-memory store and target)", () => {
  let slice: OnboardingSlice;
  beforeEach(async () => {
    slice = await startOnboardingSlice();
    await slice.onboardedBatch({ targetIds: ['broker-a'], deviceIds: ['d-1'] });
  });
  afterEach(() => slice.close());

  it('a restarted instance takes the certificate recorded for the target, not a new one', async () => {
    const first = await slice.get(TargetAuthorities).for('broker-a');
    await slice.close();
    slice = await startOnboardingSlice({ store: slice.store });
    await slice.get(TargetsView).catchUp();
    expect((await slice.get(TargetAuthorities).for('broker-a')).certificatePem).toBe(first.certificatePem);
  });

  it("keeps its own certificate when the one recorded is not its key's (another KEK)", async () => {
    const authorities = slice.get(TargetAuthorities);
    const mine = await authorities.for('broker-a');
    const foreign = await TargetAuthority.selfSigned(
      'broker-a',
      await WebCryptoSigner.fromKeyPair(await generateP256KeyPair()),
      now,
    );
    const authorityId = targetAuthorityId('broker-a');
    slice
      .get(TargetsView)
      .noteAnchorInstalled('broker-a', authorityId, foreign.fingerprintSha256, foreign.certificatePem);
    expect((await authorities.for('broker-a')).certificatePem).toBe(mine.certificatePem);
  });
});
