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

package controller

// How the GitOps specs (gitops_health_test.go) run the shipped health
// checks the way Argo CD and Flux do: the Lua scripts from the argocd-cm
// patch in a Lua state with the libraries Argo CD opens for them, and the
// CEL expressions of config/flux in an environment like Flux's.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

const gitopsGroup = "backup.dcs-operator.dev"

// argoScripts are the scripts the argocd-cm patch installs.
type argoScripts struct {
	health    map[string]string // by kind
	discovery string            // DCSBackupSchedule
	actions   map[string]string // DCSBackupSchedule, by action name
}

// loadArgoScripts reads config/argocd/argocd-cm-patch.yaml, as Argo CD
// reads argocd-cm: the health key of each kind and the actions key of
// DCSBackupSchedule (a YAML document of its own).
func loadArgoScripts() (argoScripts, error) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "argocd", "argocd-cm-patch.yaml"))
	if err != nil {
		return argoScripts{}, err
	}
	cm := &corev1.ConfigMap{}
	if err := yaml.UnmarshalStrict(data, cm); err != nil {
		return argoScripts{}, err
	}
	s := argoScripts{health: map[string]string{}, actions: map[string]string{}}
	for _, kind := range []string{"DCSBackup", "DCSBackupSchedule", "DCSRestore", "DCSBackupStorage"} {
		s.health[kind] = cm.Data["resource.customizations.health."+gitopsGroup+"_"+kind]
	}
	var actions struct {
		Discovery   string `json:"discovery.lua"`
		Definitions []struct {
			Name string `json:"name"`
			Lua  string `json:"action.lua"`
		} `json:"definitions"`
	}
	if err := yaml.UnmarshalStrict([]byte(cm.Data["resource.customizations.actions."+gitopsGroup+"_DCSBackupSchedule"]),
		&actions); err != nil {
		return argoScripts{}, err
	}
	s.discovery = actions.Discovery
	for _, d := range actions.Definitions {
		s.actions[d.Name] = d.Lua
	}
	return s, nil
}

// runArgoLua runs a script on obj the way Argo CD runs the scripts of
// argocd-cm (without useOpenLibs): only the base, table and package
// libraries are open, require("os") gives a safe os with time and date
// only, obj is a global, the script has a second, and its result is the
// value it returns. The string and math libraries, io and the full os are
// not there: a script that uses them fails here as it would in Argo CD.
func runArgoLua(script string, obj map[string]any) (any, error) {
	if script == "" {
		return nil, errors.New("no script")
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := L.CallByParam(lua.P{Fn: L.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			return nil, err
		}
	}
	L.PreloadModule(lua.OsLibName, openSafeOS)
	runCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	L.SetContext(runCtx)
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		return nil, err
	}
	return fromLua(L.Get(-1), obj)
}

// openSafeOS is the os module of Argo CD's scripts: the time and the date,
// nothing that touches the process or the file system.
func openSafeOS(L *lua.LState) int {
	L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"time": func(L *lua.LState) int {
			L.Push(lua.LNumber(time.Now().Unix()))
			return 1
		},
		"date": func(L *lua.LState) int {
			L.Push(lua.LString(strftime(L.OptString(1, "%c"), time.Now())))
			return 1
		},
	}))
	return 1
}

// strftime formats t like C's strftime for the common conversions; a
// leading "!" means UTC, unknown conversions stay as they are.
func strftime(format string, t time.Time) string {
	if rest, ok := strings.CutPrefix(format, "!"); ok {
		format, t = rest, t.UTC()
	}
	layouts := map[byte]string{'Y': "2006", 'm': "01", 'd': "02", 'H': "15", 'M': "04", 'S': "05",
		'y': "06", 'F': "2006-01-02", 'X': "15:04:05", 'c': "Mon Jan  2 15:04:05 2006", 'z': "-0700", 'Z': "MST"}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 == len(format) {
			b.WriteByte(format[i])
			continue
		}
		i++
		switch layout, ok := layouts[format[i]]; {
		case ok:
			b.WriteString(t.Format(layout))
		case format[i] == '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}

// toLua turns a JSON-like value (an object read from the API server) into
// Lua values, as Argo CD hands the live object to its scripts.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(L, item))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetString(k, toLua(L, item))
		}
		return t
	}
	return lua.LNil
}

// fromLua turns a script's result back into a JSON-like value. Lua has one
// kind of table, so an empty one takes the kind of the value at the same
// place in orig (Argo CD restores empty objects the same way); integral
// numbers become int64, as they do when Argo CD decodes its JSON.
func fromLua(v lua.LValue, orig any) (any, error) {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(v), nil
	case lua.LString:
		return string(v), nil
	case lua.LNumber:
		if f := float64(v); f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), nil
		}
		return float64(v), nil
	case *lua.LTable:
		return tableFromLua(v, orig)
	}
	return nil, fmt.Errorf("a script returned a %s", v.Type())
}

func tableFromLua(t *lua.LTable, orig any) (any, error) {
	origMap, _ := orig.(map[string]any)
	origList, _ := orig.([]any)
	n := t.MaxN()
	fields := map[string]any{}
	var err error
	t.ForEach(func(k, item lua.LValue) {
		if _, isIndex := k.(lua.LNumber); isIndex && n > 0 || err != nil {
			return
		}
		key, ok := k.(lua.LString)
		if !ok {
			err = fmt.Errorf("a table with a %s key", k.Type())
			return
		}
		fields[string(key)], err = fromLua(item, origMap[string(key)])
	})
	switch {
	case err != nil:
		return nil, err
	case n > 0 && len(fields) > 0:
		return nil, errors.New("a table that is both a list and an object")
	case n > 0:
		list := make([]any, 0, n)
		for i := 1; i <= n; i++ {
			var o any
			if i <= len(origList) {
				o = origList[i-1]
			}
			item, err := fromLua(t.RawGetInt(i), o)
			if err != nil {
				return nil, err
			}
			list = append(list, item)
		}
		return list, nil
	case len(fields) == 0 && origMap == nil:
		return []any{}, nil
	}
	return fields, nil
}

// argoHealthStatuses are the statuses Argo CD accepts from a health script;
// it shows anything else as Unknown.
var argoHealthStatuses = []string{"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

// argoHealth runs a health script and returns its status and message.
func argoHealth(script string, obj map[string]any) (status, message string, err error) {
	out, err := runArgoLua(script, obj)
	if err != nil {
		return "", "", err
	}
	hs, ok := out.(map[string]any)
	if !ok {
		return "", "", fmt.Errorf("the health script returned %T, not a table", out)
	}
	status, _ = hs["status"].(string)
	message, _ = hs["message"].(string)
	if !slices.Contains(argoHealthStatuses, status) {
		return "Unknown", "Lua returned an invalid health status", nil
	}
	return status, message, nil
}

// argoAction is an action as a discovery script offers it.
type argoAction struct {
	Disabled    bool
	DisplayName string
}

// argoDiscover runs a discovery script: action name to action.
func argoDiscover(script string, obj map[string]any) (map[string]argoAction, error) {
	out, err := runArgoLua(script, obj)
	if err != nil {
		return nil, err
	}
	found := map[string]argoAction{}
	offered, ok := out.(map[string]any)
	if !ok {
		return found, nil // an empty table: no actions
	}
	for name, v := range offered {
		fields, _ := v.(map[string]any)
		disabled, _ := fields["disabled"].(bool)
		display, _ := fields["displayName"].(string)
		found[name] = argoAction{Disabled: disabled, DisplayName: display}
	}
	return found, nil
}

// argoRunAction runs an action script and returns the object it made.
func argoRunAction(script string, obj map[string]any) (map[string]any, error) {
	out, err := runArgoLua(script, obj)
	if err != nil {
		return nil, err
	}
	changed, ok := out.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the action returned %T, not the object", out)
	}
	return changed, nil
}

// fluxCheck is one entry of a Flux Kustomization's spec.healthCheckExprs.
type fluxCheck struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	InProgress string `json:"inProgress,omitempty"`
	Failed     string `json:"failed,omitempty"`
	Current    string `json:"current"`
}

// loadFluxChecks reads config/flux/health-check-exprs.yaml, by kind.
func loadFluxChecks() (map[string]fluxCheck, error) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "flux", "health-check-exprs.yaml"))
	if err != nil {
		return nil, err
	}
	var patch struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Metadata   map[string]any `json:"metadata"`
		Spec       struct {
			HealthCheckExprs []fluxCheck `json:"healthCheckExprs"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(data, &patch); err != nil {
		return nil, err
	}
	if patch.APIVersion != "kustomize.toolkit.fluxcd.io/v1" || patch.Kind != "Kustomization" {
		return nil, fmt.Errorf("not a patch of a Flux Kustomization: %s %s", patch.APIVersion, patch.Kind)
	}
	checks := map[string]fluxCheck{}
	for _, c := range patch.Spec.HealthCheckExprs {
		checks[c.Kind] = c
	}
	return checks, nil
}

// fluxStatus evaluates a check on obj the way Flux's kustomize-controller
// does: InProgress while status.observedGeneration lags
// metadata.generation, then the first of inProgress, failed and current
// that holds, and InProgress when none does. The expressions are parsed,
// not type-checked, in an environment with Flux's options and extension
// libraries, and see the object's top-level fields as variables. An error
// (a field that does not exist) is an error, which Flux treats as "not
// known yet".
func fluxStatus(c fluxCheck, obj map[string]any) (string, error) {
	observed, found, err := unstructured.NestedInt64(obj, "status", "observedGeneration")
	if err != nil {
		return "", err
	}
	if generation, _, _ := unstructured.NestedInt64(obj, "metadata", "generation"); found && observed != generation {
		return "InProgress", nil
	}
	for _, e := range []struct{ expr, status string }{
		{c.InProgress, "InProgress"}, {c.Failed, "Failed"}, {c.Current, "Current"},
	} {
		if e.expr == "" {
			continue
		}
		holds, err := evalFluxExpr(e.expr, obj)
		if err != nil {
			return "", err
		}
		if holds {
			return e.status, nil
		}
	}
	return "InProgress", nil
}

func evalFluxExpr(expr string, obj map[string]any) (bool, error) {
	env, err := cel.NewEnv(cel.HomogeneousAggregateLiterals(), cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true), cel.CrossTypeNumericComparisons(true), cel.OptionalTypes(),
		ext.Strings(), ext.Sets(), ext.Encoders())
	if err != nil {
		return false, err
	}
	ast, issues := env.Parse(expr)
	if issues != nil && issues.Err() != nil {
		return false, issues.Err()
	}
	prog, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.InterruptCheckFrequency(100))
	if err != nil {
		return false, err
	}
	val, _, err := prog.ContextEval(ctx, obj)
	if err != nil {
		return false, fmt.Errorf("%q: %w", expr, err)
	}
	b, ok := val.(types.Bool)
	if !ok {
		return false, fmt.Errorf("%q is not a boolean", expr)
	}
	return bool(b), nil
}
