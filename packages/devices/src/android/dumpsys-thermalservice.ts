/** Above this a reading is in milli-degrees (some HALs report raw sensor units). */
const MILLI_DEGREE_THRESHOLD = 1000;

export interface ThermalReading {
  /** Degrees C by sensor name; when a name repeats, the hottest reading wins. */
  readonly temperaturesCelsius: Record<string, number>;
  /** False when the device has no thermal service (Android 9 and older). */
  readonly serviceAvailable: boolean;
}

const TEMPERATURE_LINE = /^\s+Temperature\{(.*)\}\s*$/;

function field(body: string, name: string): string | undefined {
  return new RegExp(`(?:^|,\\s*)${name}=([^,]*)`).exec(body)?.[1]?.trim();
}

/**
 * Parses `dumpsys thermalservice`: the tab-indented `Temperature{...}` lines
 * after `Current temperatures from HAL:`. Negative values are placeholders of
 * absent sensors and are skipped; values above 1000 are milli-degrees.
 */
export function parseThermalservice(text: string): ThermalReading {
  const temperaturesCelsius: Record<string, number> = {};
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  const start = lines.findIndex((l) => l.trim() === "Current temperatures from HAL:");
  if (start < 0) {
    const missing = text.trim() === "" || /Can't find service: thermalservice/.test(text);
    return { temperaturesCelsius, serviceAvailable: !missing };
  }
  for (const line of lines.slice(start + 1)) {
    if (!/^\s/.test(line) || line.trim() === "") break;
    const body = TEMPERATURE_LINE.exec(line)?.[1];
    if (body === undefined) continue;
    const name = field(body, "mName");
    const rawValue = field(body, "mValue");
    if (!name || rawValue === undefined || rawValue === "") continue;
    let celsius = Number(rawValue);
    if (!Number.isFinite(celsius) || celsius < 0) continue;
    if (celsius > MILLI_DEGREE_THRESHOLD) celsius /= 1000;
    const previous = temperaturesCelsius[name];
    temperaturesCelsius[name] = previous === undefined ? celsius : Math.max(previous, celsius);
  }
  return { temperaturesCelsius, serviceAvailable: true };
}
