package nbdb

//go:generate go tool modelgen -extended -p nbdb -o . ovn-nb.ovsschema
