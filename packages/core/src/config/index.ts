export { commonSettings, defaultBotId } from "./common.js";
export { type LoadInput, loadConfig, redactConfig, yamlParser } from "./load.js";
export {
  type ConfigOf,
  envName,
  flagName,
  kebabCase,
  type SettingKind,
  type SettingSpec,
  type SettingSpecs,
  setting,
} from "./settings.js";

import "./zod-messages.js";
