/** ISO weeks (Monday to Sunday) of the API's dates, in UTC arithmetic: the dates carry no zone here. */

export const DAY = 86_400_000;

/**
 * Monday of the ISO week of a 'YYYY-MM-DD' date.
 *
 * @example mondayOf("2018-05-31") // "2018-05-28"
 */
export function mondayOf(date: string): string {
  const t = Date.parse(`${date}T00:00:00Z`);
  const dow = (new Date(t).getUTCDay() + 6) % 7; // Monday 0 .. Sunday 6
  return new Date(t - dow * DAY).toISOString().slice(0, 10);
}

/** @example addDays("2018-05-28", 6) // "2018-06-03" */
export const addDays = (date: string, days: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY).toISOString().slice(0, 10);
