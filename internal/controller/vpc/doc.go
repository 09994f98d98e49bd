// Package vpc reconciles Vpc objects into OVN logical routers (one router
// per VPC, named after it) and reports the VPC's subnets in its status.
// Routes, policies and external connectivity come with the VPC issue.
package vpc
