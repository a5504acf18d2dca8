// Package crdgen holds the input of controller-gen's CRD generator: one Go
// package per GroupVersion, because controller-gen takes a CRD's group and
// version from package markers (+groupName, +versionName), while the SPK
// kinds, all in package spk, span three GroupVersions.
//
// Each subpackage declares the top-level object of its kinds again, with
// the CRD-wide markers (resource names, status subresource, printer
// columns); spec, service and status are the spk types themselves, so
// every field and its validation markers live in spk/types.go only. The
// types here are never used at run time; a test checks that their
// top-level fields are spk's.
//
// Regenerate with `make generate` (see manifests.GenerateCommand).
package crdgen
