export { iosDimensions, parseIdeviceIdList, parseIdeviceinfo, parseIosBattery } from "./idevice-output.js";
export { IosDriver, type IosDriverOptions } from "./ios-driver.js";
