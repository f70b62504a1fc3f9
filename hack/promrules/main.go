/*
Copyright 2026 The dcs-backup-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command promrules turns the PrometheusRule objects of a manifest stream
// (helm template's output, on standard input) into a Prometheus rule file
// (on standard output): the groups of their spec, which is exactly what the
// Prometheus Operator hands to Prometheus. `make test-alerts` runs promtool's
// checks and rule unit tests on that file.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "promrules:", err)
		os.Exit(1)
	}
}

type object struct {
	Kind string `json:"kind"`
	Spec struct {
		Groups []any `json:"groups"`
	} `json:"spec"`
}

func run(in io.Reader, out io.Writer) error {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(in))
	var groups []any
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		var obj object
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return err
		}
		if obj.Kind == "PrometheusRule" {
			groups = append(groups, obj.Spec.Groups...)
		}
	}
	if len(groups) == 0 {
		return errors.New("no PrometheusRule with rule groups in the input")
	}
	data, err := yaml.Marshal(map[string]any{"groups": groups})
	if err != nil {
		return err
	}
	_, err = out.Write(data)
	return err
}
