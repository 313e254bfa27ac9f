#!/usr/bin/env node
// A stand-in for Prisma's native `query-engine` binary, for tests on machines that cannot
// download Prisma's engines (they come from Prisma's own binary host, not from a registry).
//
// prisma-client-py (the `prisma` package LiteLLM uses) starts `query-engine -p PORT` and sends it
// GraphQL over HTTP. npm's @prisma/client ships the same engine release compiled to
// WebAssembly; it speaks only Prisma's JSON protocol and reaches PostgreSQL through a driver
// adapter (@prisma/adapter-pg over `pg`). This program runs that wasm engine and translates:
// GraphQL requests to JSON-protocol queries (with the schema's field types, so Json, DateTime,
// BigInt and Bytes values are tagged the way the JSON protocol wants), and tagged values in the
// answers back to the plain values the GraphQL protocol returned.
//
// Usage (what prisma-client-py runs): engine.js --version | engine.js -p PORT [...]
// Environment: PRISMA_DML_PATH (the schema), DATABASE_URL (or the datasource's env var, or
// OVERWRITE_DATASOURCES).
"use strict";

const fs = require("fs");
const http = require("http");
const path = require("path");

// The engine version to report: the one the installed prisma-client-py expects
// (`prisma.config.expected_engine_version`), which the wrapper script passes in.
const ENGINE_VERSION = process.env.PRISMA_STANDIN_VERSION || "unknown";

// --- the schema: model fields and their types --------------------------------------------------

function parseSchema(text) {
  const models = {};
  const enums = new Set();
  let datasourceEnv = "DATABASE_URL";
  const envMatch = /datasource\s+\w+\s*{[^}]*url\s*=\s*env\("([^"]+)"\)/m.exec(text);
  if (envMatch) datasourceEnv = envMatch[1];
  const blockRe = /^(model|enum|view)\s+(\w+)\s*{([\s\S]*?)^}/gm;
  let block;
  while ((block = blockRe.exec(text))) {
    const [, kind, name, body] = block;
    if (kind === "enum") {
      enums.add(name);
      continue;
    }
    models[name] = {};
    for (const raw of body.split("\n")) {
      const line = raw.replace(/\/\/.*$/, "").trim();
      if (!line || line.startsWith("@@")) continue;
      const m = /^(\w+)\s+(\w+)(\[\])?(\?)?/.exec(line);
      if (m) models[name][m[1]] = { type: m[2], list: Boolean(m[3]) };
    }
  }
  for (const fields of Object.values(models)) {
    for (const field of Object.values(fields)) {
      field.relation = Object.prototype.hasOwnProperty.call(models, field.type);
      field.enum = enums.has(field.type);
    }
  }
  return { models, datasourceEnv };
}

// --- GraphQL (the subset prisma-client-py writes) ---------------------------------------------

function tokenize(src) {
  const tokens = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === " " || c === "\n" || c === "\t" || c === "\r" || c === ",") {
      i++;
    } else if ("{}()[]:".includes(c)) {
      tokens.push({ t: c });
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (src[j] !== '"') j += src[j] === "\\" ? 2 : 1;
      tokens.push({ t: "value", v: JSON.parse(src.slice(i, j + 1)) });
      i = j + 1;
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(src.slice(i));
      tokens.push({ t: "value", v: Number(m[0]), raw: m[0] });
      i += m[0].length;
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
      if (!m) throw new Error(`unexpected character ${JSON.stringify(c)} in GraphQL at ${i}`);
      tokens.push({ t: "name", v: m[0] });
      i += m[0].length;
    }
  }
  return tokens;
}

class GraphQLParser {
  constructor(src) {
    this.tokens = tokenize(src);
    this.pos = 0;
  }
  peek() {
    return this.tokens[this.pos];
  }
  next(expected) {
    const token = this.tokens[this.pos++];
    if (!token || (expected && token.t !== expected)) {
      throw new Error(`GraphQL: expected ${expected}, got ${token ? token.t : "end"}`);
    }
    return token;
  }
  document() {
    if (this.peek().t === "name") this.next(); // query | mutation
    return this.selection()[0];
  }
  selection() {
    this.next("{");
    const fields = [];
    while (this.peek().t !== "}") fields.push(this.field());
    this.next("}");
    return fields;
  }
  field() {
    let name = this.next("name").v;
    let alias = null;
    if (this.peek() && this.peek().t === ":") {
      this.next(":");
      alias = name;
      name = this.next("name").v;
    }
    let args = null;
    if (this.peek() && this.peek().t === "(") {
      this.next("(");
      args = {};
      while (this.peek().t !== ")") {
        const key = this.next("name").v;
        this.next(":");
        args[key] = this.value();
      }
      this.next(")");
    }
    let selection = null;
    if (this.peek() && this.peek().t === "{") selection = this.selection();
    return { alias, name, args, selection };
  }
  value() {
    const token = this.next();
    if (token.t === "value") return token.raw && !Number.isSafeInteger(token.v) && !token.raw.includes(".") && !/[eE]/.test(token.raw) ? BigInt(token.raw) : token.v;
    if (token.t === "name") {
      if (token.v === "true") return true;
      if (token.v === "false") return false;
      if (token.v === "null") return null;
      return token.v; // an enum value
    }
    if (token.t === "{") {
      const obj = {};
      while (this.peek().t !== "}") {
        const key = this.next("name").v;
        this.next(":");
        obj[key] = this.value();
      }
      this.next("}");
      return obj;
    }
    if (token.t === "[") {
      const list = [];
      while (this.peek().t !== "]") list.push(this.value());
      this.next("]");
      return list;
    }
    throw new Error(`GraphQL: unexpected ${token.t}`);
  }
}

// --- GraphQL to the JSON protocol -------------------------------------------------------------

const ACTIONS = [
  "findUnique",
  "findFirst",
  "findMany",
  "createOne",
  "createMany",
  "updateOne",
  "updateMany",
  "deleteOne",
  "deleteMany",
  "upsertOne",
  "aggregate",
  "groupBy",
];
// Arguments whose values name fields or sort orders, never field values.
const UNTYPED_ARGS = new Set(["orderBy", "distinct", "by", "select", "_count", "_avg", "_sum", "_min", "_max"]);
// Keys under a Json field's filter that are not Json values themselves.
const JSON_PLAIN_KEYS = new Set(["path", "mode", "string_contains", "string_starts_with", "string_ends_with"]);

function splitOperation(name) {
  if (name === "queryRaw" || name === "executeRaw") return { action: name, model: null };
  for (const action of ACTIONS) {
    if (name.startsWith(action)) {
      let model = name.slice(action.length);
      let suffix = "";
      if (model.endsWith("OrThrow")) {
        model = model.slice(0, -"OrThrow".length);
        suffix = "OrThrow";
      }
      return { action: action + suffix, model };
    }
  }
  throw new Error(`GraphQL: unknown operation ${name}`);
}

function tagScalar(type, value) {
  if (value === null || value === undefined) return value;
  if (Array.isArray(value)) return value.map((v) => tagScalar(type, v));
  if (typeof value === "object" && !(typeof value === "bigint")) {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = type === "Json" && JSON_PLAIN_KEYS.has(k) ? v : tagScalar(type, v);
    }
    return out;
  }
  switch (type) {
    case "Json":
      return typeof value === "string" ? { $type: "Json", value } : value;
    case "DateTime":
      return typeof value === "string" ? { $type: "DateTime", value } : value;
    case "BigInt":
      return typeof value === "number" || typeof value === "bigint" || typeof value === "string"
        ? { $type: "BigInt", value: String(value) }
        : value;
    case "Bytes":
      return typeof value === "string" ? { $type: "Bytes", value } : value;
    case "Decimal":
      return typeof value === "number" || typeof value === "string" ? { $type: "Decimal", value: String(value) } : value;
    default:
      return typeof value === "bigint" ? Number(value) : value;
  }
}

// Arguments in a model's context: a key naming one of its fields switches to that field's type
// (a relation: the related model); any other key (where, data, AND, create, ...) keeps it.
function convertArgs(schema, model, value) {
  if (value === null || typeof value !== "object") return typeof value === "bigint" ? Number(value) : value;
  if (Array.isArray(value)) return value.map((v) => convertArgs(schema, model, v));
  const fields = (model && schema.models[model]) || {};
  const out = {};
  for (const [key, v] of Object.entries(value)) {
    const field = Object.prototype.hasOwnProperty.call(fields, key) ? fields[key] : null;
    if (UNTYPED_ARGS.has(key)) out[key] = plain(v);
    else if (field && field.relation) out[key] = convertArgs(schema, field.type, v);
    else if (field && !field.enum) out[key] = tagScalar(field.type, v);
    else out[key] = convertArgs(schema, model, v);
  }
  return out;
}

function plain(value) {
  if (typeof value === "bigint") return Number(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

function convertSelection(schema, model, selection) {
  const out = {};
  const fields = (model && schema.models[model]) || {};
  for (const item of selection || []) {
    if (!item.selection && !item.args) {
      out[item.name] = true;
      continue;
    }
    const field = fields[item.name];
    const related = field && field.relation ? field.type : model;
    const nested = {};
    if (item.args) nested.arguments = convertArgs(schema, related, item.args);
    nested.selection = item.selection ? convertSelection(schema, related, item.selection) : { $scalars: true };
    out[item.name] = nested;
  }
  return out;
}

function toJsonQuery(schema, graphql) {
  const root = new GraphQLParser(graphql).document();
  const { action, model } = splitOperation(root.name);
  if (!model) {
    const args = root.args || {};
    // prisma-client-py sends the parameters as a JSON string, as the JSON protocol expects.
    return { action, query: { arguments: { query: args.query, parameters: args.parameters || "[]" }, selection: {} } };
  }
  const query = { arguments: convertArgs(schema, model, root.args || {}), selection: convertSelection(schema, model, root.selection) };
  if (action === "createMany" || action === "updateMany" || action === "deleteMany") query.selection = { count: true };
  return { modelName: model, action, query };
}

// Tagged values of a JSON-protocol answer as the GraphQL protocol returned them.
function untag(value) {
  if (Array.isArray(value)) return value.map(untag);
  if (value === null || typeof value !== "object") return value;
  if (typeof value.$type === "string" && "value" in value) {
    switch (value.$type) {
      case "BigInt": {
        const n = Number(value.value);
        return Number.isSafeInteger(n) ? n : value.value;
      }
      case "Decimal":
        return Number(value.value);
      default:
        return value.value; // DateTime, Json (a string, as prisma-client-py's models expect), Bytes
    }
  }
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = untag(v);
  return out;
}

function toGraphQLAnswer(answer, rawFormat) {
  if (answer.errors) return { errors: answer.errors };
  const data = answer.data || {};
  const keys = Object.keys(data);
  let result = keys.length ? data[keys[0]] : null;
  if (result && Array.isArray(result.columns) && Array.isArray(result.rows)) {
    result = rawFormat === "typed-rows" ? result : rawRows(result);
  } else {
    result = untag(result);
  }
  return { data: { result } };
}

// A raw query's answer as prisma-client-py before 0.13 reads it: one object per row, each
// value with its type (`{"prisma__type": "int", "prisma__value": 1}`, arrays as "array").
function rawRows({ columns, types, rows }) {
  return rows.map((row) => {
    const obj = {};
    columns.forEach((column, i) => {
      const type = types[i] || "unknown";
      const value = row[i];
      if (type.endsWith("-array") && Array.isArray(value)) {
        const itemType = type.slice(0, -"-array".length);
        obj[column] = { prisma__type: "array", prisma__value: value.map((v) => ({ prisma__type: itemType, prisma__value: v })) };
      } else {
        obj[column] = { prisma__type: value === null ? "null" : type, prisma__value: value };
      }
    });
    return obj;
  });
}

// --- the wasm engine --------------------------------------------------------------------------

function databaseUrl(schema) {
  if (process.env.OVERWRITE_DATASOURCES) {
    const overrides = JSON.parse(process.env.OVERWRITE_DATASOURCES);
    if (overrides.length && overrides[0].url) return overrides[0].url;
  }
  const url = process.env[schema.datasourceEnv];
  if (!url) throw new Error(`${schema.datasourceEnv} is not set`);
  return url;
}

async function startEngine(datamodel, url) {
  const pg = require("pg");
  const { PrismaPg } = require("@prisma/adapter-pg");
  const { bindAdapter } = require("@prisma/driver-adapter-utils");
  const runtimeDir = path.dirname(require.resolve("@prisma/client/runtime/library.js"));
  const runtime = require(path.join(runtimeDir, "query_engine_bg.postgresql.js"));
  const wasm = new WebAssembly.Module(fs.readFileSync(path.join(runtimeDir, "query_engine_bg.postgresql.wasm")));
  const instance = new WebAssembly.Instance(wasm, { "./query_engine_bg.js": runtime });
  runtime.__wbg_set_wasm(instance.exports);

  // The adapter refuses PostgreSQL's catalog type `name` (what information_schema and pg_catalog
  // queries return); it is text.
  const queryable = Object.getPrototypeOf(PrismaPg.prototype);
  const performIO = queryable.performIO;
  queryable.performIO = async function (query) {
    const result = await performIO.call(this, query);
    if (result.ok && result.value && result.value.fields) {
      for (const field of result.value.fields) {
        if (field.dataTypeID === 19) field.dataTypeID = 25;
        else if (field.dataTypeID === 1003) field.dataTypeID = 1009;
      }
    }
    return result;
  };

  const parsed = new URL(url);
  const schemaName = parsed.searchParams.get("schema") || undefined;
  for (const param of ["schema", "connection_limit", "pool_timeout", "connect_timeout", "pgbouncer", "statement_cache_size"]) {
    parsed.searchParams.delete(param);
  }
  const pool = new pg.Pool({ connectionString: parsed.toString(), max: 10 });
  if (schemaName) {
    pool.on("connect", (client) => client.query(`SET search_path TO "${schemaName.replace(/"/g, '""')}"`));
  }
  const adapter = bindAdapter(new PrismaPg(pool, { schema: schemaName }));
  const engine = new runtime.QueryEngine(
    {
      datamodel,
      env: process.env,
      logQueries: false,
      ignoreEnvVarErrors: true,
      datasourceOverrides: {},
      logLevel: "error",
      configDir: process.cwd(),
      engineProtocol: "json",
    },
    (log) => {
      if (process.env.PRISMA_ENGINE_STANDIN_DEBUG) process.stderr.write(`engine: ${log}\n`);
    },
    adapter,
  );
  await engine.connect("{}");
  return { engine, pool };
}

// --- the HTTP server prisma-client-py talks to -------------------------------------------------

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res, status, body) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function errorAnswer(message) {
  return { errors: [{ error: message, user_facing_error: { is_panic: false, message } }] };
}

async function handle(state, req, res) {
  const url = req.url.split("?")[0];
  if (req.method === "GET" && url === "/status") return send(res, 200, { status: "ok" });
  if (req.method === "GET" && url === "/metrics") {
    const format = req.url.includes("format=prometheus") ? "prometheus" : "json";
    const metrics = await state.engine.metrics(JSON.stringify({ format }));
    return send(res, 200, metrics);
  }
  const body = await readBody(req);
  const txId = req.headers["x-transaction-id"] || undefined;
  if (req.method === "POST" && url === "/transaction/start") {
    const options = JSON.parse(body || "{}");
    const answer = JSON.parse(
      await state.engine.startTransaction(
        JSON.stringify({ max_wait: options.max_wait ?? 2000, timeout: options.timeout ?? 5000, isolation_level: options.isolation_level }),
        "{}",
      ),
    );
    return send(res, answer.errors ? 400 : 200, answer);
  }
  const txMatch = /^\/transaction\/([^/]+)\/(commit|rollback)$/.exec(url);
  if (req.method === "POST" && txMatch) {
    const [, id, what] = txMatch;
    const answer = JSON.parse(
      what === "commit" ? await state.engine.commitTransaction(id, "{}") : await state.engine.rollbackTransaction(id, "{}"),
    );
    return send(res, answer && answer.errors ? 400 : 200, answer || {});
  }
  if (req.method === "POST" && (url === "/" || url === "")) {
    const request = JSON.parse(body);
    if (request.batch) {
      const batch = request.batch.map((item) => toJsonQuery(state.schema, item.query));
      const payload = { batch };
      if (request.transaction) payload.transaction = { isolationLevel: request.isolation_level || null };
      const answer = JSON.parse(await state.engine.query(JSON.stringify(payload), "{}", txId));
      if (answer.errors) return send(res, 200, { errors: answer.errors });
      return send(res, 200, { batchResult: (answer.batchResult || []).map((a) => toGraphQLAnswer(a, state.rawFormat)) });
    }
    let query;
    try {
      query = toJsonQuery(state.schema, request.query);
    } catch (exc) {
      return send(res, 200, errorAnswer(String(exc.message || exc)));
    }
    const answer = JSON.parse(await state.engine.query(JSON.stringify(query), "{}", txId));
    return send(res, 200, toGraphQLAnswer(answer, state.rawFormat));
  }
  return send(res, 404, errorAnswer(`no such endpoint: ${req.method} ${url}`));
}

async function main(argv) {
  if (argv.includes("--version") || argv.includes("-V")) {
    process.stdout.write(`query-engine ${ENGINE_VERSION}\n`);
    return;
  }
  const portIndex = argv.indexOf("-p") >= 0 ? argv.indexOf("-p") : argv.indexOf("--port");
  const port = portIndex >= 0 ? Number(argv[portIndex + 1]) : 4466;
  const dmlPath = process.env.PRISMA_DML_PATH;
  const datamodel = dmlPath ? fs.readFileSync(dmlPath, "utf8") : process.env.PRISMA_DML;
  if (!datamodel) throw new Error("PRISMA_DML_PATH is not set");
  const schema = parseSchema(datamodel);
  const { engine, pool } = await startEngine(datamodel, databaseUrl(schema));
  // prisma-client-py 0.13+ reads raw answers as columns/types/rows, older ones as typed objects.
  const state = { engine, schema, rawFormat: process.env.PRISMA_STANDIN_RAW_FORMAT || "typed-objects" };
  const server = http.createServer((req, res) => {
    handle(state, req, res).catch((exc) => {
      process.stderr.write(`prisma engine stand-in: ${exc && exc.stack ? exc.stack : exc}\n`);
      if (!res.headersSent) send(res, 500, errorAnswer(String(exc && exc.message ? exc.message : exc)));
    });
  });
  server.keepAliveTimeout = 0;
  server.listen(port, "127.0.0.1");
  const stop = () => {
    server.close();
    Promise.resolve(engine.disconnect("{}"))
      .catch(() => {})
      .then(() => pool.end())
      .finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

module.exports = { parseSchema, toJsonQuery, untag, GraphQLParser };

if (require.main === module) {
  main(process.argv.slice(2)).catch((exc) => {
    process.stderr.write(`prisma engine stand-in: ${exc && exc.stack ? exc.stack : exc}\n`);
    process.exit(1);
  });
}
