package nbdb

//go:generate go tool modelgen -p nbdb -o . ovn-nb.ovsschema
