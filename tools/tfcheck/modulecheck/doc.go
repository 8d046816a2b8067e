// Package modulecheck holds the tests that check deploy/terraform/modules/ecrsync against the rest
// of ecrsync: its IAM policies against the ECR actions the engine calls (internal/ecr/actions.go),
// its EventBridge pattern against the Lambda's event fixtures, and its ECRSYNC_CONFIG against the
// config contract. There is no code here, only tests.
package modulecheck
