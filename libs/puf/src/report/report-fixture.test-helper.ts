import { intraDeviceDistances, interDeviceDistances } from '../analysis/response-statistics.js';
import { monteCarloKeyFailureRate } from '../analysis/key-failure-monte-carlo.js';
import { summarise } from '../analysis/summary-statistics.js';
import { PufDevice } from '../device/puf-device.js';
import { NOMINAL_CONDITIONS } from '../simulation/operating-conditions.js';
import { SRAM_PROFILE } from '../simulation/puf-profiles.js';
import { bitErrorFigure, distanceFigure, keyFailureFigure, type ProfileFigures } from './report-figures.js';

// The report's figures from a small real run of its computations (8 SRAM devices, a few hundred
// Monte Carlo trials), for the HTML report's tests.
export const profile = SRAM_PROFILE;
const devices = Array.from({ length: 8 }, (_, i) => PufDevice.manufacture({ seed: `html-report/${i}`, profile }));
const references = devices.map((d) => d.readEnrolmentReference());
export const worst = { temperatureC: 125, voltageDelta: 0, ageYears: 10 };

/** Computed once: the model's curve alone takes seconds on a loaded machine. */
let computed: ProfileFigures | undefined;
export function sramFigures(): ProfileFigures {
  computed ??= {
    profile: profile.name,
    bitError: bitErrorFigure(profile, {
      ages: [0, 10],
      measuredAges: [0, 10],
      measuredTemperatures: [-40, 25, 125],
      grid: [-40, 0, 25, 75, 125],
      measure: (at) => summarise(intraDeviceDistances(devices, references, at, 1)).mean,
    }),
    keyFailure: keyFailureFigure(
      profile.code,
      [0.1, 0.22, 0.25].map((ber) => monteCarloKeyFailureRate(profile.code, ber, 300, 7)),
    ),
    distances: distanceFigure([
      { label: 'intra-device, 25 °C, new', values: intraDeviceDistances(devices, references, NOMINAL_CONDITIONS) },
      { label: 'intra-device, 125 °C, 10 years', values: intraDeviceDistances(devices, references, worst) },
      { label: 'inter-device', values: interDeviceDistances(references) },
    ]),
  };
  return computed;
}
