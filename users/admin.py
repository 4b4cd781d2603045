from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from users.models import Group, Membership, Right, Token, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "display_name", "is_active", "is_staff", "is_superuser", "created")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "display_name")
    readonly_fields = ("created", "updated", "last_login")
    fieldsets = (
        (None, {"fields": ("email", "display_name", "password")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "created", "updated")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "display_name", "password1", "password2")}),)
    filter_horizontal = ()


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "created", "last_used")
    search_fields = ("name", "user__email")
    list_filter = ("name",)
    raw_id_fields = ("user",)
    # The key is shown once, on creation, in the success message: never in lists or forms.
    exclude = ("key",)
    readonly_fields = ("created", "last_used")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            self.message_user(request, f"Token created. Its key, shown only now: {obj.key}")


class MembershipInline(admin.TabularInline):
    model = Membership
    raw_id_fields = ("user",)
    extra = 0


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ("name", "public", "created")
    list_filter = ("public",)
    search_fields = ("name",)
    inlines = (MembershipInline,)


@admin.register(Right)
class RightAdmin(admin.ModelAdmin):
    list_display = ("content_type", "object_id", "user", "group", "level")
    list_filter = ("content_type", "level")
    search_fields = ("user__email", "group__name", "object_id")
    raw_id_fields = ("user", "group")
