package vswitch

//go:generate go tool modelgen -extended -p vswitch -o . vswitch.ovsschema
