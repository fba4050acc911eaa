export { type AdbDeviceEntry, type AdbDeviceList, parseAdbDevices } from "./adb-devices.js";
export { androidDimensions } from "./android-dimensions.js";
export { AndroidDriver, type AndroidDriverOptions } from "./android-driver.js";
export { readAndroidDevice } from "./device-reading.js";
export { parseDumpsysBattery } from "./dumpsys-battery.js";
export { parseThermalservice, type ThermalReading } from "./dumpsys-thermalservice.js";
export { type Props, parseGetprop } from "./getprop.js";
export { parseProcUptime } from "./proc-uptime.js";
