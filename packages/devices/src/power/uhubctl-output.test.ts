import { describe, expect, it } from "vitest";
import { parseUhubctl } from "./uhubctl-output.js";

// As uhubctl 2.6.0 prints them (uhubctl.c, main() and print_port_status()).
const OFF_PORT_2 = `Current status for hub 1-1 [2109:3431 USB2.0 Hub, USB 2.10, 4 ports, ppps]
  Port 2: 0503 power highspeed enable connect [18d1:4ee7 Google Pixel 3a 8A2Y0B3C]
Sent power off request
New status for hub 1-1 [2109:3431 USB2.0 Hub, USB 2.10, 4 ports, ppps]
  Port 2: 0000 off
`;

const LISTING = `Current status for hub 2 [1d6b:0003 Linux 6.1.0-rpi7-rpi-v8 xhci-hcd xHCI Host Controller 0000:01:00.0, USB 3.00, 4 ports, ganged]
  Port 1: 02a0 power 5gbps Rx.Detect
  Port 2: 02a0 power 5gbps Rx.Detect
Current status for hub 1-1 [2109:3431 USB2.0 Hub, USB 2.10, 4 ports, ganged]
  Port 1: 0100 power
  Port 3: 0503 power highspeed enable connect [05ac:12a8 Apple Inc. iPhone 00008030001A35E22E48402E]
`;

describe("parseUhubctl", () => {
  it("reads the hub, the port before and after, and the request sent", () => {
    const r = parseUhubctl(OFF_PORT_2);
    expect(r.sent).toEqual(["off"]);
    expect(r.before).toEqual([
      {
        location: "1-1",
        description: "2109:3431 USB2.0 Hub, USB 2.10, 4 ports, ppps",
        switching: "ppps",
        ports: [
          {
            port: 2,
            status: "0503",
            flags: ["power", "highspeed", "enable", "connect"],
            device: "18d1:4ee7 Google Pixel 3a 8A2Y0B3C",
          },
        ],
      },
    ]);
    expect(r.after[0]?.ports).toEqual([{ port: 2, status: "0000", flags: ["off"], device: undefined }]);
  });

  it("reads a listing of several hubs, USB3 flags and ganged switching", () => {
    const r = parseUhubctl(LISTING);
    expect(r.sent).toEqual([]);
    expect(r.before.map((h) => [h.location, h.switching, h.ports.map((p) => p.port)])).toEqual([
      ["2", "ganged", [1, 2]],
      ["1-1", "ganged", [1, 3]],
    ]);
    expect(r.before[0]?.ports[0]?.flags).toEqual(["power", "5gbps", "Rx.Detect"]);
    expect(r.before[1]?.ports[1]?.device).toMatch(/iPhone 00008030001A35E22E48402E$/);
  });

  it("finds nothing in an error", () => {
    expect(parseUhubctl("No compatible devices detected at location 1-9!\n")).toEqual({
      before: [],
      after: [],
      sent: [],
    });
  });
});
