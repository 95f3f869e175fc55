/** Where and when a PUF is read. */
export interface OperatingConditions {
  /** Die temperature in degrees Celsius (enrolment reference: 25 C). */
  temperatureC: number;
  /** Supply deviation relative to nominal, e.g. 0.1 = +10 % (enrolment reference: 0). */
  voltageDelta: number;
  /** Time since enrolment in years: drives the aging term. */
  ageYears: number;
}

export const NOMINAL_TEMPERATURE_C = 25;

export const NOMINAL_CONDITIONS: Readonly<OperatingConditions> = Object.freeze({
  temperatureC: NOMINAL_TEMPERATURE_C,
  voltageDelta: 0,
  ageYears: 0,
});

/** The industrial temperature corners the report and tests sweep. */
export const TEMPERATURE_CORNERS_C: readonly number[] = [-40, 25, 125];

export function conditions(partial: Partial<OperatingConditions> = {}): OperatingConditions {
  return { ...NOMINAL_CONDITIONS, ...partial };
}
