from django.contrib import admin

from .models import ApprovalPolicy


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(admin.ModelAdmin):
    list_display = ("order", "name", "enabled", "server_name_pattern", "vpc_id", "mode", "fixed_ips", "outcome",
                    "approver_group")  # fmt: skip
    list_display_links = ("name",)
    list_editable = ("order", "enabled")
    ordering = ("order", "id")
