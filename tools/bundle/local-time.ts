/**
 * What node-cron asks `Intl.DateTimeFormat` for when a job has no time zone
 * (the process's local time), answered from Date's local getters instead.
 * The first Intl formatter a process makes loads ICU's locale data: about
 * 8 MB more RSS (measured under the image's lean flags), for a supervisor
 * that only needs the local wall-clock fields. The bundle (./index.ts) routes
 * node-cron's zone-less formatters here; jobs with a time zone keep Intl.
 */

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;
const two = (n: number) => String(n).padStart(2, "0");

export interface DatePart {
  readonly type: string;
  readonly value: string;
}

/**
 * Like `new Intl.DateTimeFormat("en-US", {year: "numeric", month, day, hour,
 * minute, second: "2-digit", weekday: "short", hour12: false})` in local time.
 */
export const localPartsFormatter = {
  formatToParts(date: Date): DatePart[] {
    return [
      { type: "weekday", value: WEEKDAYS[date.getDay()] as string },
      { type: "literal", value: ", " },
      { type: "month", value: two(date.getMonth() + 1) },
      { type: "literal", value: "/" },
      { type: "day", value: two(date.getDate()) },
      { type: "literal", value: "/" },
      { type: "year", value: String(date.getFullYear()) },
      { type: "literal", value: ", " },
      { type: "hour", value: two(date.getHours()) },
      { type: "literal", value: ":" },
      { type: "minute", value: two(date.getMinutes()) },
      { type: "literal", value: ":" },
      { type: "second", value: two(date.getSeconds()) },
    ];
  },
};

/** Like `new Intl.DateTimeFormat("en-US", {timeZoneName: "shortOffset"})` in local time: "GMT", "GMT+1", "GMT-3:30". */
export const localOffsetFormatter = {
  formatToParts(date: Date): DatePart[] {
    const east = -date.getTimezoneOffset();
    const abs = Math.abs(east);
    const name =
      east === 0 ? "GMT" : `GMT${east < 0 ? "-" : "+"}${Math.floor(abs / 60)}${abs % 60 ? `:${two(abs % 60)}` : ""}`;
    return [{ type: "timeZoneName", value: name }];
  },
};
