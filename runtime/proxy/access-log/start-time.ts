/**
 * `%START_TIME(fmt)%` as Envoy writes it: strftime's specifiers in UTC (api/access-log-format.ts
 * lists those accepted), `%s` the seconds since the epoch, `%f` and `%1f`..`%9f` the fraction of the
 * second (9 digits by default; the clock has milliseconds, so digits past the third are zeros).
 * Compiled once into a list of pieces; a line pays one Date and a join.
 */
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
type Piece = string | ((d: Date, ms: number) => string);

const dayOfYear = (d: Date) => Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;

const SPECIFIERS: Readonly<Record<string, (d: Date, ms: number) => string>> = {
  a: (d) => DAYS[d.getUTCDay()],
  A: (d) => DAY_NAMES[d.getUTCDay()],
  b: (d) => MONTHS[d.getUTCMonth()],
  B: (d) => MONTH_NAMES[d.getUTCMonth()],
  d: (d) => pad(d.getUTCDate()),
  e: (d) => String(d.getUTCDate()).padStart(2, ' '),
  F: (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`,
  H: (d) => pad(d.getUTCHours()),
  I: (d) => pad(d.getUTCHours() % 12 || 12),
  j: (d) => pad(dayOfYear(d), 3),
  m: (d) => pad(d.getUTCMonth() + 1),
  M: (d) => pad(d.getUTCMinutes()),
  p: (d) => (d.getUTCHours() < 12 ? 'AM' : 'PM'),
  s: (_, ms) => String(Math.floor(ms / 1000)),
  S: (d) => pad(d.getUTCSeconds()),
  T: (d) => `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`,
  y: (d) => pad(d.getUTCFullYear() % 100),
  Y: (d) => String(d.getUTCFullYear()),
  z: () => '+0000',
  Z: () => 'UTC',
  '%': () => '%',
};

/** The fraction of the second in `digits` digits (to the microsecond, then zeros: a start time is wall clock less a measured duration). */
const fraction = (digits: number) => (_: Date, ms: number) =>
  `${pad(Math.floor((ms - Math.floor(ms / 1000) * 1000) * 1000), 6)}000`.slice(0, digits);

/** A format checked by api/access-log-format.ts's startTimeProblem into a function of the start time (ms since the epoch). */
export function compileStartTime(format: string): (ms: number) => string {
  const pieces: Piece[] = [];
  let literal = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i];
    if (c !== '%') {
      literal += c;
      continue;
    }
    const m = /^([1-9])?f/.exec(format.slice(i + 1));
    const write = m ? fraction(m[1] ? Number(m[1]) : 9) : SPECIFIERS[format[i + 1]];
    i += m ? m[0].length : 1;
    if (!write) continue;
    if (literal) pieces.push(literal), (literal = '');
    pieces.push(write);
  }
  if (literal) pieces.push(literal);
  return (ms) => {
    const d = new Date(ms);
    let out = '';
    for (const p of pieces) out += typeof p === 'string' ? p : p(d, ms);
    return out;
  };
}
