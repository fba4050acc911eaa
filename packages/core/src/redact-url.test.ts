import { describe, expect, it } from "vitest";
import { redactUrl } from "./redact-url.js";

describe("redactUrl", () => {
  it.each([
    ["https://user:pa55@swarm.example.com/x", "https://<redacted>@swarm.example.com/x"],
    ["https://ghp_tokenOnly@swarm.example.com", "https://<redacted>@swarm.example.com/"],
    [
      "https://swarm.example.com/api?access_token=ya29.abc&pool=lab",
      "https://swarm.example.com/api?access_token=<redacted>&pool=lab",
    ],
    [
      "http://h:8080/?token=1&key=2&secret=3&password=4&auth=5&x=6",
      "http://h:8080/?token=<redacted>&key=<redacted>&secret=<redacted>&password=<redacted>&auth=<redacted>&x=6",
    ],
    [
      "https://h/?API_KEY=1&Authorization=2&client_secret=3",
      "https://h/?API_KEY=<redacted>&Authorization=<redacted>&client_secret=<redacted>",
    ],
    ["https://h/cb#access_token=abc&state=s", "https://h/cb#access_token=<redacted>&state=s"],
    ["https://u:p@h/?access_token=t", "https://<redacted>@h/?access_token=<redacted>"],
  ])("%s", (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });

  it("leaves URLs without credentials and non-URLs as they are", () => {
    for (const v of [
      "https://chromium-swarm.appspot.com",
      "http://127.0.0.1:11000",
      "https://h/path?pool=lab&os=Android",
      "/b/s",
      "python3",
      "*/30 * * * *",
      "",
    ])
      expect(redactUrl(v)).toBe(v);
  });
});
