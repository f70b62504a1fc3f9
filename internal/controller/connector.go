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

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

// Connector resolves the connection of one resource into a DCS API. The
// reconcilers never speak HTTP; tests wrap or replace the connector.
type Connector interface {
	Connect(ctx context.Context, namespace string, conn backupv1alpha1.Connection) (dcs.API, error)
}

// connectionKey identifies how a watch on an instance connects: the
// namespace (of the credentials Secret) and the connection.
type connectionKey struct {
	namespace string
	conn      backupv1alpha1.Connection
}

// watchConnect returns the Connect of a coordinator watch through
// connector, and its ConnectKey: the coordinator keeps one per instance
// and key, not one per watching object.
func watchConnect(connector Connector, namespace string,
	conn backupv1alpha1.Connection) (func(context.Context) (dcs.API, error), any) {
	return func(ctx context.Context) (dcs.API, error) { return connector.Connect(ctx, namespace, conn) },
		connectionKey{namespace: namespace, conn: conn}
}

// ConnectError is a connection that cannot be made until the user fixes
// something: a missing Secret or key, an endpoint the operator refuses.
type ConnectError struct {
	// Reason is the Synced condition reason, e.g. CredentialsNotFound.
	Reason  string
	Message string
}

func (e *ConnectError) Error() string { return e.Message }

// openTelekomCloudRegions are the regions whose DCS endpoint is not under
// myhuaweicloud.com (SPEC.md section 1).
var openTelekomCloudRegions = map[string]string{
	"eu-de": "https://dcs.eu-de.otc.t-systems.com",
	"eu-nl": "https://dcs.eu-nl.otc.t-systems.com",
}

// ResolveEndpoint returns the DCS endpoint of a connection: the override, or
// the region's public endpoint. Plain http is refused unless allowInsecure.
func ResolveEndpoint(conn backupv1alpha1.Connection, allowInsecure bool) (string, error) {
	if conn.Endpoint == "" {
		if conn.Region == "" {
			return "", &ConnectError{Reason: backupv1alpha1.ReasonInvalidEndpoint,
				Message: "spec.connection: neither region nor endpoint is set"}
		}
		if ep, ok := openTelekomCloudRegions[conn.Region]; ok {
			return ep, nil
		}
		return "https://dcs." + conn.Region + ".myhuaweicloud.com", nil
	}
	ep := strings.TrimSuffix(conn.Endpoint, "/")
	if strings.HasPrefix(ep, "http://") && !allowInsecure {
		return "", &ConnectError{Reason: backupv1alpha1.ReasonInvalidEndpoint,
			Message: fmt.Sprintf("spec.connection.endpoint %q uses plain http, which would send signed requests "+
				"unencrypted; use https (the operator allows http only with --insecure-endpoints)", conn.Endpoint)}
	}
	return ep, nil
}

// SecretConnector builds DCS clients from the credentials Secret in the
// resource's namespace (never another namespace: the reference has no
// namespace field).
//
// Secret data is never cached by an informer: the connector reads a Secret
// with a direct GET (APIReader) only when its resourceVersion, seen through
// a metadata-only informer (Metadata), changed since the last read. So the
// operator holds in memory only the credentials of Secrets in use.
type SecretConnector struct {
	// Metadata reads PartialObjectMetadata of Secrets (the manager's cached
	// client with a metadata-only informer).
	Metadata client.Reader
	// APIReader reads Secret data directly from the API server.
	APIReader client.Reader
	// AllowInsecure permits plain-http endpoints.
	AllowInsecure bool
	// Timeout of each DCS call.
	Timeout time.Duration
	// Limiter is shared by every client, per endpoint and project.
	Limiter *dcs.Limiter
	// Clock signs requests; nil means the real clock.
	Clock clock.PassiveClock
	// HTTPClient is optional.
	HTTPClient *http.Client
	// Observe is called after every DCS call, for metrics.
	Observe func(operation string, err error)

	clients secretBuilt[clientKey, dcs.API]
}

// clientKey identifies a client of a Secret: one Secret may serve several
// endpoints or projects, each with its own client.
type clientKey struct {
	endpoint   string
	projectID  string
	apiVersion backupv1alpha1.APIVersion
}

// Connect implements Connector.
func (c *SecretConnector) Connect(ctx context.Context, namespace string, conn backupv1alpha1.Connection) (dcs.API, error) {
	endpoint, err := ResolveEndpoint(conn, c.AllowInsecure)
	if err != nil {
		return nil, err
	}
	secret := types.NamespacedName{Namespace: namespace, Name: conn.CredentialsSecretRef.Name}
	key := clientKey{endpoint: endpoint, projectID: conn.ProjectID, apiVersion: conn.APIVersion}
	return c.clients.get(ctx, c.Metadata, c.APIReader, secret, key,
		func(s *corev1.Secret) (dcs.API, error) { return c.build(s, endpoint, conn) }, secretError)
}

// build makes the client of a connection from its Secret's data.
func (c *SecretConnector) build(secret *corev1.Secret, endpoint string, conn backupv1alpha1.Connection) (dcs.API, error) {
	creds, err := credentialsFrom(secret)
	if err != nil {
		return nil, err
	}
	cl, err := dcs.New(dcs.Config{
		Endpoint:      endpoint,
		AllowInsecure: c.AllowInsecure,
		ProjectID:     conn.ProjectID,
		APIVersion:    dcsAPIVersion(conn.APIVersion),
		Credentials:   creds,
		HTTPClient:    c.HTTPClient,
		Timeout:       c.Timeout,
		Clock:         c.Clock,
		Limiter:       c.Limiter,
	})
	if err != nil {
		return nil, &ConnectError{Reason: backupv1alpha1.ReasonInvalidEndpoint, Message: err.Error()}
	}
	if c.Observe != nil {
		return &observedAPI{api: cl, observe: c.Observe}, nil
	}
	return cl, nil
}

// Forget drops the clients of a Secret that was deleted, so its credentials
// leave memory.
func (c *SecretConnector) Forget(secret types.NamespacedName) { c.clients.forget(secret) }

func dcsAPIVersion(v backupv1alpha1.APIVersion) dcs.APIVersion {
	if v == backupv1alpha1.APIVersionV1 {
		return dcs.V1
	}
	return dcs.V2
}

func secretError(key types.NamespacedName, err error) error {
	if apierrors.IsNotFound(err) {
		return &ConnectError{Reason: backupv1alpha1.ReasonCredentialsNotFound,
			Message: fmt.Sprintf("Secret %q (spec.connection.credentialsSecretRef.name) not found in namespace %q",
				key.Name, key.Namespace)}
	}
	return fmt.Errorf("reading Secret %s: %w", key, err)
}

// credentialsFrom reads the key pair (and the optional security token).
func credentialsFrom(s *corev1.Secret) (dcs.Credentials, error) {
	if err := requireKeyPair(s, "accessKey, secretKey, optional securityToken"); err != nil {
		return dcs.Credentials{}, err
	}
	return dcs.Credentials{
		AccessKey:     secretValue(s, backupv1alpha1.SecretKeyAccessKey),
		SecretKey:     secretValue(s, backupv1alpha1.SecretKeySecretKey),
		SecurityToken: secretValue(s, backupv1alpha1.SecretKeySecurityToken),
	}, nil
}

// connectReason returns the Synced reason of a Connect error.
func connectReason(err error) (string, bool) {
	var ce *ConnectError
	if errors.As(err, &ce) {
		return ce.Reason, true
	}
	return "", false
}
