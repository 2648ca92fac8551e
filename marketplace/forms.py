"""Forms of the shared domain."""

from django import forms
from django.utils.translation import gettext_lazy as _

from marketplace.models import Organisation


class OrganisationForm(forms.ModelForm):
    """Register an organisation; `areas` limits the places the acting user may choose."""

    class Meta:
        model = Organisation
        fields = ["name", "kind", "department", "area", "credit_code", "address", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "credit_code": _("18位，社会组织必填；系统按 GB 32100-2015 校验。"),
        }

    def __init__(self, *args, areas, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = areas
        self.fields["area"].empty_label = _("请选择区域")
        self.fields["kind"].choices = [("", _("请选择类型")), *Organisation.Kind.choices]

    def clean_credit_code(self):
        return (self.cleaned_data.get("credit_code") or "").strip().upper()
