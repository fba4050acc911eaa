export { NoneDriver } from "./driver.js";
