output "function_arns" {
  description = "The two functions, one per destination account."
  value       = { prod = module.prod.function_arn, dr = module.dr.function_arn }
}

output "event_rule_arns" {
  description = "The two rules in the source account."
  value       = { prod = module.prod.event_rule_arn, dr = module.dr.event_rule_arn }
}
