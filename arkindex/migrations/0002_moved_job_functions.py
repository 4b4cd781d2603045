from django.db import migrations

# Jobs recorded before their functions moved to their apps' `jobs` modules run under the new paths.
MOVED = {
    "datasets.exports.export_job": "datasets.jobs.export_build",
    "documents.search.reindex_job": "documents.jobs.corpus_reindex",
    "ponos.emails.send_process_finished_email": "ponos.jobs.send_process_finished_email",
}


def forward(apps, schema_editor):
    Job = apps.get_model("arkindex", "Job")
    for old, new in MOVED.items():
        Job.objects.filter(function=old).update(function=new)


def backward(apps, schema_editor):
    Job = apps.get_model("arkindex", "Job")
    for old, new in MOVED.items():
        Job.objects.filter(function=new).update(function=old)


class Migration(migrations.Migration):
    dependencies = [("arkindex", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
