// A stand-in for iconv-lite in the bundled MySQL function (iconv-lite's tables are ~480 KB of a
// 1.6 MB bundle). mysql2 only reaches for iconv-lite for encodings Node's Buffer does not know;
// rotor always connects with utf8mb4, so what remains is metadata in utf8mb3, which mysql2 calls
// "cesu8" and which is byte-identical to UTF-8 for the characters utf8mb3 can hold. Anything else
// is decoded with the runtime's TextDecoder (ICU) and refused clearly if unknown.
'use strict';

const UTF8_ALIASES = new Set(['cesu8', 'utf8mb3', 'utf8', 'utf-8']);

function decoderFor(encoding) {
  const name = String(encoding).toLowerCase();
  let decoder;
  try {
    decoder = new TextDecoder(UTF8_ALIASES.has(name) ? 'utf-8' : name);
  } catch {
    throw new Error(
      `rotor's MySQL bundle cannot decode the "${encoding}" character set; connect with utf8mb4`,
    );
  }
  return {
    write: (buffer) => decoder.decode(buffer, { stream: true }),
    end: () => decoder.decode() || undefined,
  };
}

function encoderFor(encoding) {
  const name = String(encoding).toLowerCase();
  if (!UTF8_ALIASES.has(name)) {
    throw new Error(
      `rotor's MySQL bundle cannot encode the "${encoding}" character set; connect with utf8mb4`,
    );
  }
  return { write: (text) => Buffer.from(text, 'utf8'), end: () => undefined };
}

module.exports = {
  getDecoder: decoderFor,
  getEncoder: encoderFor,
  decode: (buffer, encoding) => {
    const d = decoderFor(encoding);
    return d.write(buffer) + (d.end() ?? '');
  },
  encode: (text, encoding) => encoderFor(encoding).write(text),
  encodingExists: (encoding) => {
    try {
      decoderFor(encoding);
      return true;
    } catch {
      return false;
    }
  },
};
