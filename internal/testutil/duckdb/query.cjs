// Runs SQL statements with DuckDB (npm @duckdb/node-api) and prints their
// rows as JSON: {"name": [{column: value, ...}, ...], ...}. Input on stdin:
// [{"name": ..., "sql": ...}, ...]. BIGINTs come out as strings.
const api = require(process.env.DUCKDB_NODE_API);

async function main() {
  const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const instance = await api.DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  const out = {};
  for (const q of input) {
    try {
      const reader = await conn.runAndReadAll(q.sql);
      out[q.name] = reader.getRowObjectsJson();
    } catch (e) {
      process.stderr.write(`${q.name}: ${e.message}\n`);
      process.exit(3);
    }
  }
  process.stdout.write(JSON.stringify(out));
}
main().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(2); });
