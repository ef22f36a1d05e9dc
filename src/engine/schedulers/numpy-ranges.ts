/**
 * The few numpy range and rounding primitives diffusers builds its timestep schedules from,
 * reproduced operation for operation so the schedules come out identical (numpy's float `arange`
 * and half-to-even `round` give different integers than the obvious JavaScript at some step counts).
 */

/** `numpy.round` for one value: halves go to the nearest even integer (`round(812.5) = 812`). */
export function roundHalfEven(x: number): number {
  const rounded = Math.round(x);
  // Math.round sends every half upwards; numpy sends it to the even neighbour.
  return Math.abs(x % 1) === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded;
}

/**
 * `numpy.linspace(start, stop, num, endpoint)` in float64: `i * step + start`, with the last value
 * pinned to `stop` when `endpoint` is true.
 */
export function linspace(start: number, stop: number, num: number, endpoint = true): number[] {
  const div = endpoint ? num - 1 : num;
  const step = (stop - start) / div;
  const values: number[] = [];
  for (let i = 0; i < num; i++) values.push(div > 0 ? i * step + start : start);
  if (endpoint && num > 1) values[num - 1] = stop;
  return values;
}

/**
 * `numpy.arange(start, stop, step)` for float arguments. numpy takes the length as
 * `ceil((stop - start) / step)` and fills `start + i * delta` with `delta = (start + step) - start`;
 * both details decide which integers the schedules round to.
 */
export function arange(start: number, stop: number, step: number): number[] {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const delta = start + step - start;
  const values: number[] = [];
  for (let i = 0; i < length; i++) values.push(i === 0 ? start : start + i * delta);
  return values;
}
