/** Injection tokens of the revocation service's own ports (the event store is messaging's EVENT_STORE). */
import type { NextStep } from './revocation-saga/next-step.js';

/** The service's configuration (config.ts). */
export const REVOCATION_CONFIG = Symbol('REVOCATION_CONFIG');
/** `() => Date`: the time handlers put in command metadata (deciders never read a clock). */
export const CLOCK = Symbol('CLOCK');
export type Clock = () => Date;
/** The service's pino logger. */
export const REVOCATION_LOGGER = Symbol('REVOCATION_LOGGER');
/** Told of each saga step recorded (a caller's metrics or tests). */
export const STEP_LISTENER = Symbol('STEP_LISTENER');
export type StepListener = (revocationId: string, step: NextStep) => void;
