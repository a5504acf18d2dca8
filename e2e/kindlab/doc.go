// Package kindlab holds, behind the kinde2e build tag (make test-kind), the
// test of the product's whole path on the kind runtime as a student runs
// it: spklab up, spklab test, spklab down, and spklab up killed in the
// middle of each step in turn. It runs the spklab binary (what users run)
// against the default lab and needs root, dockerd and every image.
package kindlab
