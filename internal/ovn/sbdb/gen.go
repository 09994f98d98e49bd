package sbdb

//go:generate go tool modelgen -extended -p sbdb -o . ovn-sb.ovsschema
