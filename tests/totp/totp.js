// Prints the RFC 6238 code (SHA-1, 6 digits, 30-second steps) of a Base32 secret at a Unix time,
// computed by otplib: the tests' independent check of ecert's pyotp-based second factor.
// Usage: node totp.js SECRET UNIX_SECONDS
"use strict";
const { authenticator } = require("otplib");

const [secret, seconds] = process.argv.slice(2);
if (!secret || !/^\d+$/.test(seconds || "")) {
  process.stderr.write("usage: node totp.js SECRET UNIX_SECONDS\n");
  process.exit(2);
}
authenticator.options = { epoch: Number(seconds) * 1000, step: 30, digits: 6 };
process.stdout.write(authenticator.generate(secret) + "\n");
