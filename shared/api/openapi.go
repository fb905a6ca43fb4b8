package api

import _ "embed"

// OpenAPI is the API's OpenAPI 3.1 description, served at
// GET /v1/openapi.json; a test validates it and checks it against the
// routes actually served.
//
//go:embed openapi.json
var OpenAPI []byte
