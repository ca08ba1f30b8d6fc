# SPDX-License-Identifier: Apache-2.0
"""A small checker for the subset of JSON Schema that /api/v1/openapi.json
uses (type, nullable, properties, additionalProperties, required, items, enum, $ref): the Python
twin of the one in tests/unit/http/openapi_test.cpp, for routes that only the
running gateway serves (modules such as BLE)."""

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


def schema_errors(doc, schema, value, where="$"):
    """Every way `value` breaks `schema`, as readable strings (empty = valid)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return schema_errors(doc, doc["components"]["schemas"][name], value, where)
    if value is None:
        return [] if schema.get("nullable") else ["%s: null but not nullable" % where]
    errors = []
    t = schema.get("type")
    if t and not _TYPES[t](value):
        return ["%s: expected %s, got %r" % (where, t, value)]
    if "enum" in schema and value not in schema["enum"]:
        errors.append("%s: %r not in %s" % (where, value, schema["enum"]))
    if isinstance(value, dict):
        for r in schema.get("required", []):
            if r not in value:
                errors.append("%s: missing required %r" % (where, r))
        for k, sub in schema.get("properties", {}).items():
            if k in value:
                errors += schema_errors(doc, sub, value[k], where + "." + k)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for k, v in value.items():
                if k not in schema.get("properties", {}):
                    errors += schema_errors(doc, extra, v, where + "." + k)
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            errors += schema_errors(doc, schema["items"], v, "%s[%d]" % (where, i))
    return errors


def response_schema(doc, path, method="get", status="200"):
    return doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
