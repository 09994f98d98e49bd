package vswitch

//go:generate go tool modelgen -p vswitch -o . vswitch.ovsschema
