import django.db.models.deletion
from django.db import migrations, models


def group_to_steps(apps, schema_editor):
    """A request that named one approver group needs one approver from it: the same rule, as a step."""
    InterfaceRequest = apps.get_model("interfaces", "InterfaceRequest")
    for request in InterfaceRequest.objects.exclude(approval_group="").only("pk", "approval_group"):
        InterfaceRequest.objects.filter(pk=request.pk).update(
            approval_steps=[{"groups": [request.approval_group], "required": 1}]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("interfaces", "0001_initial"),
        ("teams", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="interfacerequest",
            name="approval_steps",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(group_to_steps, migrations.RunPython.noop),
        migrations.RemoveField(model_name="interfacerequest", name="approval_group"),
        migrations.AddField(
            model_name="interfacerequest",
            name="current_step",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="interfacerequest",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="interfacerequest",
            name="next_attempt_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="interfacerequest",
            name="team",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="teams.team"
            ),
        ),
    ]
