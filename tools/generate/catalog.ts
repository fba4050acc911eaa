// The setting specs of the two processes of a pod, grouped as the configuration
// reference shows them. The specs themselves live beside the code that uses them.
import { commonSettings, type SettingSpecs } from "@rpi-swarming/core";
import { deviceSettings, healthSettings, powerSettings, staticAttributeSettings } from "@rpi-swarming/devices/settings";
import { stateServerSettings } from "@rpi-swarming/state-server/settings";
import { supervisorSettings } from "@rpi-swarming/supervisor/settings";

export interface SettingGroup {
  /** Markdown heading, with its level. */
  readonly heading: string;
  /** A sentence or two under the heading. */
  readonly intro?: string;
  readonly specs: SettingSpecs;
  /** Where the spec object is declared, named under the table. */
  readonly source: string;
}

const sharedKeys = new Set([
  ...Object.keys(deviceSettings),
  ...Object.keys(healthSettings),
  ...Object.keys(powerSettings),
  ...Object.keys(staticAttributeSettings),
]);
/** The state server's own settings, without the device ones it shares with `probe`. */
const stateServerOwn: SettingSpecs = Object.fromEntries(
  Object.entries(stateServerSettings).filter(([key]) => !sharedKeys.has(key)),
);

export const settingGroups: readonly SettingGroup[] = [
  {
    heading: "## Every command",
    specs: commonSettings,
    source: "packages/core/src/config/common.ts (commonSettings)",
  },
  {
    heading: "## State server (and `probe`)",
    intro: "`rpi-swarming probe` takes the same settings, so one config file serves both.",
    specs: {},
    source: "",
  },
  {
    heading: "### Device and probing",
    specs: deviceSettings,
    source: "packages/devices/src/settings.ts (deviceSettings)",
  },
  {
    heading: "### Health policy",
    intro:
      "A device type may override the thresholds below through `thresholdsByDeviceType` (its keys are those of `thresholdOverridesSchema` in the same file).",
    specs: healthSettings,
    source: "packages/devices/src/settings.ts (healthSettings)",
  },
  {
    heading: "### Power cycling",
    intro:
      "The last rung of the recovery ladder before quarantine, and `rpi-swarming power-cycle` (see [power-cycling.md](power-cycling.md)). `probe` ignores these.",
    specs: powerSettings,
    source: "packages/devices/src/power/settings.ts (powerSettings)",
  },
  {
    heading: "### What the bot reports and where the server listens",
    specs: { ...staticAttributeSettings, ...stateServerOwn },
    source:
      "packages/devices/src/settings.ts (staticAttributeSettings), packages/state-server/src/settings.ts (stateServerSettings)",
  },
  {
    heading: "## Supervisor",
    specs: supervisorSettings,
    source: "packages/supervisor/src/settings.ts (supervisorSettings)",
  },
];

/** The processes whose settings the chart writes, keyed by their section in chart/values.yaml. */
export const chartProcesses = {
  stateServer: { command: "state-server", specs: stateServerSettings as SettingSpecs },
  supervisor: { command: "supervisor", specs: supervisorSettings as SettingSpecs },
} as const;
export type ChartProcess = keyof typeof chartProcesses;
