#!/bin/sh
# Install a SARIF 2.1.0 validator into DIR (default build/sarif-validator):
# the npm package @microsoft/jest-sarif ships the official schema
# (lib/schemas/sarif-2.1.0-rtm.5.json) and depends on ajv 6 (with its
# draft-04 meta-schema). Writes DIR/validate.js: `node DIR/validate.js FILE.sarif`
# exits 0 when FILE is valid, 1 with the errors otherwise.
# Exit status: 0 installed (or already there), 77 cannot install (no node,
# npm or registry).
set -u
DIR=${1:-build/sarif-validator}
SCHEMA=node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json
if [ ! -f "$DIR/$SCHEMA" ] || [ ! -d "$DIR/node_modules/ajv" ]; then
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || {
        echo "install-sarif-validator: node/npm not found" >&2; exit 77; }
    mkdir -p "$DIR" || exit 77
    (cd "$DIR" && [ -f package.json ] || echo '{"private": true}' > package.json)
    if ! (cd "$DIR" && npm install --no-audit --no-fund --silent \
            @microsoft/jest-sarif@1.0.0-beta.0 >npm.log 2>&1); then
        echo "install-sarif-validator: npm install failed (see $DIR/npm.log)" >&2
        exit 77
    fi
fi
cat > "$DIR/validate.js" <<'JS'
// Validate a SARIF file against the SARIF 2.1.0 schema (ajv, draft-07).
const fs = require('fs');
const path = require('path');
const Ajv = require(path.join(__dirname, 'node_modules', 'ajv'));
const schema = require(path.join(__dirname, 'node_modules', '@microsoft',
  'jest-sarif', 'lib', 'schemas', 'sarif-2.1.0-rtm.5.json'));
const ajv = new Ajv({allErrors: true, schemaId: 'auto'});
// the SARIF schema is JSON Schema draft-04
ajv.addMetaSchema(require(path.join(__dirname, 'node_modules', 'ajv', 'lib',
  'refs', 'json-schema-draft-04.json')));
const validate = ajv.compile(schema);
const doc = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
if (validate(doc)) { console.log('valid SARIF 2.1.0'); process.exit(0); }
console.log(JSON.stringify(validate.errors, null, 2));
process.exit(1);
JS
exit 0
