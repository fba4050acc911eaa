export { startControlServer } from "./control.js";
export { SimulatedDriver, type SimulatedDriverOptions } from "./driver.js";
export { type ConditionPatch, conditionPatchSchema, type SimulatedOptions, simulatedOptionsSchema } from "./options.js";
export { type SimulatedCondition, SimulatedPhone } from "./phone.js";
