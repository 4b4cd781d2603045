from django.db import migrations


def create_default_farm(apps, schema_editor):
    apps.get_model("ponos", "Farm").objects.get_or_create(name="default")


class Migration(migrations.Migration):
    dependencies = [("ponos", "0001_initial")]

    operations = [migrations.RunPython(create_default_farm, migrations.RunPython.noop)]
