package localenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	backupv1alpha1 "github.com/dcs-operator/dcs-backup-operator/api/v1alpha1"
)

// DefaultControlPlaneStartTimeout bounds the start of kube-apiserver and of
// etcd each; envtest's own default (20s) is short on a busy 2-core machine.
const DefaultControlPlaneStartTimeout = time.Minute

// AdminUser is the user of the kubeconfig a ControlPlane writes; it is in
// system:masters.
const AdminUser = "localenv-admin"

// ControlPlaneOptions configure StartControlPlane.
type ControlPlaneOptions struct {
	// AssetsDir holds kube-apiserver, etcd and kubectl (see
	// ControlPlaneAssets). Required.
	AssetsDir string
	// CRDDirs are installed before Start returns. Usually
	// <root>/config/crd/bases.
	CRDDirs []string
	// KubeconfigPath is where the kubeconfig of AdminUser is written.
	// Required.
	KubeconfigPath string
	// StartTimeout applies to kube-apiserver and to etcd; default
	// DefaultControlPlaneStartTimeout.
	StartTimeout time.Duration
}

// ControlPlane is a kube-apiserver and etcd on loopback, run by envtest.
type ControlPlane struct {
	// Env is the envtest environment, for what this type does not cover.
	Env *envtest.Environment
	// Config talks to the API server as AdminUser.
	Config *rest.Config
	// Scheme knows the core types and the operator's API.
	Scheme *runtime.Scheme
	// Client is an uncached client with Scheme: reads go to the API server.
	Client client.Client
	// KubeconfigPath is a kubeconfig file for AdminUser: kubectl and the
	// manager use it.
	KubeconfigPath string
	// KubectlPath is the kubectl next to kube-apiserver, of the same version.
	KubectlPath string
}

// NewScheme returns a scheme with the Kubernetes core types and the
// operator's API.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(backupv1alpha1.AddToScheme(s))
	return s
}

// StartControlPlane starts kube-apiserver and etcd, installs the CRDs and
// writes a kubeconfig. Stop it with Stop.
func StartControlPlane(opts ControlPlaneOptions) (*ControlPlane, error) {
	if opts.AssetsDir == "" || opts.KubeconfigPath == "" {
		return nil, errors.New("localenv: ControlPlaneOptions need AssetsDir and KubeconfigPath")
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultControlPlaneStartTimeout
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    opts.AssetsDir,
		CRDDirectoryPaths:        opts.CRDDirs,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: opts.StartTimeout,
	}
	if _, err := env.Start(); err != nil {
		// Start may have started etcd before kube-apiserver failed.
		return nil, errors.Join(fmt.Errorf("start control plane from %s: %w", opts.AssetsDir, err), env.Stop())
	}
	cp := &ControlPlane{Env: env, Scheme: NewScheme(), KubectlPath: filepath.Join(opts.AssetsDir, "kubectl")}
	if err := cp.connect(opts.KubeconfigPath); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	return cp, nil
}

// connect adds AdminUser, writes its kubeconfig and makes the client.
func (cp *ControlPlane) connect(kubeconfigPath string) error {
	user, err := cp.Env.AddUser(envtest.User{Name: AdminUser, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add user %s: %w", AdminUser, err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		return err
	}
	cp.KubeconfigPath = kubeconfigPath
	cp.Config = user.Config()
	cp.Client, err = client.New(cp.Config, client.Options{Scheme: cp.Scheme})
	return err
}

// Kubectl returns a kubectl command against the control plane, to be run
// by the caller (Output, CombinedOutput).
func (cp *ControlPlane) Kubectl(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, cp.KubectlPath, append([]string{"--kubeconfig", cp.KubeconfigPath}, args...)...)
}

// Stop stops kube-apiserver and etcd and removes their data.
func (cp *ControlPlane) Stop() error {
	return cp.Env.Stop()
}
