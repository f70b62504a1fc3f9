// Package dcstest holds test fixtures shared by the tests of the DCS client
// and of the simulator.
package dcstest

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

// signingVectorsJSON is a copy of ../shared/dcs-api/signing-vectors.json:
// requests signed by the official Huawei Cloud Go SDK (SPEC.md 7).
//
//go:embed signing-vectors.json
var signingVectorsJSON []byte

// SigningVector is one request signed by the official SDK.
type SigningVector struct {
	Name          string            `json:"name"`
	AccessKey     string            `json:"access_key"`
	SecretKey     string            `json:"secret_key"`
	SecurityToken string            `json:"security_token"`
	Method        string            `json:"method"`
	Host          string            `json:"host"`
	RequestURI    string            `json:"request_uri"`
	Headers       map[string]string `json:"headers"`
	Body          string            `json:"body"`
	Authorization string            `json:"authorization"`
}

// SigningVectors returns the vectors and the algorithm they were signed with.
func SigningVectors() (algorithm string, vectors []SigningVector, err error) {
	var file struct {
		Algorithm string          `json:"algorithm"`
		Vectors   []SigningVector `json:"vectors"`
	}
	if err := json.Unmarshal(signingVectorsJSON, &file); err != nil {
		return "", nil, fmt.Errorf("signing vectors: %w", err)
	}
	return file.Algorithm, file.Vectors, nil
}
