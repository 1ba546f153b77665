import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def group_to_step(apps, schema_editor):
    """A policy that named one approver group becomes a policy of one step: one approver from that group."""
    ApprovalPolicy = apps.get_model("approvals", "ApprovalPolicy")
    ApprovalStep = apps.get_model("approvals", "ApprovalStep")
    for policy in ApprovalPolicy.objects.exclude(approver_group=None):
        step = ApprovalStep.objects.create(policy=policy, order=1, required=1)
        step.groups.add(policy.approver_group_id)


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("interfaces", "0002_team_steps_and_retries"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ApprovalStep",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("order", models.PositiveIntegerField(default=1)),
                (
                    "required",
                    models.PositiveSmallIntegerField(
                        default=1, help_text="How many different people from these groups must approve at this step."
                    ),
                ),
                ("groups", models.ManyToManyField(related_name="+", to="auth.group")),
                (
                    "policy",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="steps", to="approvals.approvalpolicy"
                    ),
                ),
            ],
            options={"ordering": ["order", "id"]},
        ),
        migrations.RunPython(group_to_step, migrations.RunPython.noop),
        migrations.RemoveField(model_name="approvalpolicy", name="approver_group"),
        migrations.CreateModel(
            name="ApprovalDecision",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("step", models.PositiveSmallIntegerField()),
                ("approve", models.BooleanField()),
                ("comment", models.TextField(blank=True)),
                ("parameters_digest", models.CharField(max_length=64)),
                ("decided_at", models.DateTimeField()),
                (
                    "request",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="decisions",
                        to="interfaces.interfacerequest",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "ordering": ["decided_at", "id"],
                "constraints": [
                    models.UniqueConstraint(fields=("request", "user"), name="one_decision_per_person_per_request")
                ],
            },
        ),
    ]
