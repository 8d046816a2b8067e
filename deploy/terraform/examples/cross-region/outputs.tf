output "function_arn" {
  description = "The function, in the destination account and the source Region."
  value       = module.ecrsync.function_arn
}

output "config" {
  description = "ECRSYNC_CONFIG: its destination names the destination Region."
  value       = module.ecrsync.config
}
