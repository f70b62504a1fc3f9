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

package packaging

import (
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Checks every way of installing the operator (chart, kustomize) must pass.

// expectHardenedPod checks the pod the restricted Pod Security Standard
// admits: non-root, the runtime's seccomp profile, no privilege escalation,
// no capabilities, and a read-only root file system on top.
func expectHardenedPod(spec corev1.PodSpec) {
	Expect(spec.SecurityContext).NotTo(BeNil(), "pod securityContext")
	Expect(spec.SecurityContext.RunAsNonRoot).To(HaveValue(BeTrue()), "runAsNonRoot")
	Expect(spec.SecurityContext.SeccompProfile).To(HaveValue(
		HaveField("Type", corev1.SeccompProfileTypeRuntimeDefault)), "seccompProfile")

	sc := managerContainer(spec).SecurityContext
	Expect(sc).NotTo(BeNil(), "container securityContext")
	Expect(sc.ReadOnlyRootFilesystem).To(HaveValue(BeTrue()), "readOnlyRootFilesystem")
	Expect(sc.AllowPrivilegeEscalation).To(HaveValue(BeFalse()), "allowPrivilegeEscalation")
	Expect(sc.Privileged).To(Or(BeNil(), HaveValue(BeFalse())), "privileged")
	Expect(sc.Capabilities).NotTo(BeNil(), "capabilities")
	Expect(sc.Capabilities.Drop).To(ConsistOf(corev1.Capability("ALL")), "capabilities.drop")
	Expect(sc.Capabilities.Add).To(BeEmpty(), "capabilities.add")
}

// expectProbesAndResources checks that the kubelet probes the manager's
// /healthz and /readyz on the port it serves them on, and that the container
// has requests and a memory limit.
func expectProbesAndResources(spec corev1.PodSpec, healthPort int32) {
	c := managerContainer(spec)
	Expect(c.Args).To(ContainElement("--health-probe-bind-address=:"+itoa(healthPort)), "health probe flag")
	for probe, path := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
		Expect(probe).NotTo(BeNil(), "probe of %s", path)
		Expect(probe.HTTPGet).NotTo(BeNil(), "probe of %s", path)
		Expect(probe.HTTPGet.Path).To(Equal(path))
		Expect(containerPort(c, probe.HTTPGet.Port)).To(Equal(healthPort), "probe port of %s", path)
	}
	Expect(c.Resources.Requests).To(HaveKey(corev1.ResourceCPU))
	Expect(c.Resources.Requests).To(HaveKey(corev1.ResourceMemory))
	Expect(c.Resources.Limits).To(HaveKey(corev1.ResourceMemory))
}

// containerPort resolves a probe's or Service's port, by number or by name.
func containerPort(c corev1.Container, port intstr.IntOrString) int32 {
	if port.Type == intstr.Int {
		return port.IntVal
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return p.ContainerPort
		}
	}
	return 0
}

// expectServiceReachesManager checks that service selects the manager's pods
// and that its port leads to the container's metrics port.
func expectServiceReachesManager(svc *corev1.Service, pod corev1.PodTemplateSpec, metricsPort int32) {
	for k, v := range svc.Spec.Selector {
		Expect(pod.Labels).To(HaveKeyWithValue(k, v), "the Service's selector matches the manager's pods")
	}
	Expect(svc.Spec.Selector).NotTo(BeEmpty())
	Expect(svc.Spec.Ports).To(HaveLen(1))
	port := svc.Spec.Ports[0]
	Expect(port.Port).To(Equal(metricsPort))
	Expect(containerPort(managerContainer(pod.Spec), port.TargetPort)).To(Equal(metricsPort))
	Expect(managerContainer(pod.Spec).Args).To(ContainElement("--metrics-bind-address=:" + itoa(metricsPort)))
}
